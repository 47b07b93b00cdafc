import { describe, expect, test } from "bun:test";
import { Assignment } from "../../src/cluster/assignment.ts";
import { planMovement } from "../../src/cluster/movement-plan.ts";
import type { PartitionPlacement } from "../../src/cluster/types.ts";

const place = (topic: string, partitionId: number, replicas: number[], leader = replicas[0]!): PartitionPlacement =>
  ({ topic, partitionId, replicas, leader });

describe("planMovement", () => {
  test("no change, no steps", () => {
    const a = new Assignment([place("t", 0, [1, 2]), place("t", 1, [2, 3])]);
    const plan = planMovement(a, a);
    expect(plan).toMatchObject({ moves: 0, leaderChanges: 0, changed: [] });
    expect(plan.steps.length).toBe(0);
  });

  test("counts moves and leader changes; leader-only changes go in the first step", () => {
    const cur = new Assignment([place("t", 0, [1, 2]), place("t", 1, [2, 1]), place("t", 2, [1, 2])]);
    const tgt = new Assignment([place("t", 0, [1, 3]), place("t", 1, [1, 2]), place("t", 2, [3, 4])]);
    const plan = planMovement(cur, tgt);
    expect(plan.moves).toBe(3);
    expect(plan.leaderChanges).toBe(2);
    expect(plan.steps.length).toBe(1);
    expect(plan.steps[0]!.totalPartitions()).toBe(3);
  });

  test("steps respect per-broker and per-step caps, and together reach the target", () => {
    const cur: PartitionPlacement[] = [];
    const tgt: PartitionPlacement[] = [];
    for (let p = 0; p < 40; p++) {
      cur.push(place("t", p, [1 + (p % 4), 1 + ((p + 1) % 4)]));
      tgt.push(place("t", p, [1 + (p % 4), 5 + (p % 4)]));
    }
    const current = new Assignment(cur);
    const target = new Assignment(tgt);
    const limits = { maxMovesPerBroker: 3, maxMovesPerStep: 7 };
    const plan = planMovement(current, target, limits);
    expect(plan.moves).toBe(40);
    let merged = current;
    for (const step of plan.steps) {
      let moves = 0;
      const perBroker = new Map<number, number>();
      for (const p of step.partitions()) {
        const before = merged.getReplicas(p.topic, p.partitionId);
        const added = p.replicas.filter((r) => !before.includes(r));
        const removed = before.filter((r) => !p.replicas.includes(r));
        moves += added.length;
        for (const b of [...added, ...removed]) perBroker.set(b, (perBroker.get(b) ?? 0) + 1);
      }
      expect(moves).toBeLessThanOrEqual(limits.maxMovesPerStep);
      for (const n of perBroker.values()) expect(n).toBeLessThanOrEqual(limits.maxMovesPerBroker);
      merged = merged.merge(step);
    }
    expect(merged.toJSON().partitions).toEqual(target.toJSON().partitions);
    expect(plan.steps.length).toBeGreaterThanOrEqual(Math.ceil(40 / 7));
  });

  test("a partition whose own moves exceed a cap gets a step of its own", () => {
    const cur = new Assignment([place("t", 0, [1, 2, 3]), place("t", 1, [1, 2, 3])]);
    const tgt = new Assignment([place("t", 0, [4, 5, 6]), place("t", 1, [1, 2, 7])]);
    const plan = planMovement(cur, tgt, { maxMovesPerBroker: 1, maxMovesPerStep: 2 });
    expect(plan.steps.map((s) => s.partitions().map((p) => p.partitionId))).toEqual([[0], [1]]);
  });

  test("is deterministic", () => {
    const cur = new Assignment([place("b", 0, [1, 2]), place("a", 0, [1, 2]), place("a", 1, [2, 1])]);
    const tgt = new Assignment([place("b", 0, [3, 2]), place("a", 0, [3, 1]), place("a", 1, [2, 3])]);
    const a = planMovement(cur, tgt, { maxMovesPerBroker: 1, maxMovesPerStep: 10 });
    const b = planMovement(cur, tgt, { maxMovesPerBroker: 1, maxMovesPerStep: 10 });
    expect(a.steps.map((s) => s.toJSON())).toEqual(b.steps.map((s) => s.toJSON()));
    expect(a.steps.length).toBe(3); // broker 3 receives three replicas, one per step
  });
});
