import { StreamBusError } from "../errors.ts";
import { Assignment } from "./assignment.ts";
import type { PartitionPlacement } from "./types.ts";

/**
 * Caps on replica moves in flight at once. A move copies one replica onto a broker that did not host it;
 * it keeps the receiving broker and the broker giving the replica up busy. Defaults follow Cruise Control's
 * spirit (a handful per broker, a bounded number cluster-wide): 5 per broker, 50 in the whole cluster.
 */
export interface MovementLimits {
  /** Moves one broker may take part in (as receiver or giver) within one step. */
  maxMovesPerBroker: number;
  /** Moves within one step, cluster-wide. */
  maxMovesPerStep: number;
}

export const DEFAULT_MOVEMENT_LIMITS: Readonly<MovementLimits> = { maxMovesPerBroker: 5, maxMovesPerStep: 50 };

export interface MovementPlan {
  /** Replicas placed on a broker that did not host that partition. */
  moves: number;
  /** Partitions whose leader changes. */
  leaderChanges: number;
  /** Partitions whose placement changes, in (topic, partitionId) order. */
  changed: PartitionPlacement[];
  /** The changed partitions split into steps that respect the limits; each step is written atomically. */
  steps: Assignment[];
}

/**
 * Splits the way from `current` to `target` into steps. Partitions that only reorder replicas or change
 * leader (no data moves) go in the first step. A partition's replica set changes in one piece, so a single
 * partition whose moves exceed a limit gets a step of its own. First fit, in (topic, partitionId) order:
 * deterministic.
 *
 * @example
 * const plan = planMovement(current, target, { maxMovesPerBroker: 2, maxMovesPerStep: 10 });
 * for (const step of plan.steps) await store.storePartitionAssignment(step);
 */
export function planMovement(current: Assignment, target: Assignment, limits: MovementLimits = DEFAULT_MOVEMENT_LIMITS): MovementPlan {
  const changed: PartitionPlacement[] = [];
  let moves = 0;
  let leaderChanges = 0;
  const steps: Array<{ parts: PartitionPlacement[]; moves: number; perBroker: Map<number, number> }> = [];
  const newStep = () => {
    const s = { parts: [] as PartitionPlacement[], moves: 0, perBroker: new Map<number, number>() };
    steps.push(s);
    return s;
  };
  let firstOpen = 0; // steps before this one are full cluster-wide

  for (const p of target.partitions()) {
    const before = current.getReplicas(p.topic, p.partitionId);
    const leaderBefore = current.getLeader(p.topic, p.partitionId);
    const sameReplicas = before.length === p.replicas.length && before.every((r, i) => r === p.replicas[i]);
    if (sameReplicas && leaderBefore === p.leader) continue;
    changed.push(p);
    if (leaderBefore !== p.leader) leaderChanges++;
    const added = p.replicas.filter((r) => !before.includes(r));
    const removed = before.filter((r) => !p.replicas.includes(r));
    moves += added.length;
    if (added.length === 0) {
      (steps[0] ?? newStep()).parts.push(p);
      continue;
    }
    const involved = [...added, ...removed];
    let placed = false;
    for (let i = firstOpen; i < steps.length && !placed; i++) {
      const s = steps[i]!;
      const fits = s.moves + added.length <= limits.maxMovesPerStep &&
        involved.every((b) => (s.perBroker.get(b) ?? 0) + 1 <= limits.maxMovesPerBroker);
      if (fits || s.moves === 0) {
        s.parts.push(p);
        s.moves += added.length;
        for (const b of involved) s.perBroker.set(b, (s.perBroker.get(b) ?? 0) + 1);
        placed = true;
      }
    }
    if (!placed) {
      const s = newStep();
      s.parts.push(p);
      s.moves += added.length;
      for (const b of involved) s.perBroker.set(b, (s.perBroker.get(b) ?? 0) + 1);
    }
    while (firstOpen < steps.length && steps[firstOpen]!.moves >= limits.maxMovesPerStep) firstOpen++;
  }
  return { moves, leaderChanges, changed, steps: steps.map((s) => new Assignment(s.parts)) };
}

/** Rejects limits that could never let a move through. */
export function validateLimits(l: MovementLimits): MovementLimits {
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isInteger(v) || v < 1) throw new StreamBusError("Invalid", `movement limit ${k} must be an integer >= 1, got ${v}`);
  }
  return l;
}
