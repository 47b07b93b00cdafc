// Scenarios and checks for the strategy property tests (properties.test.ts); a separate module so a failing
// case can be replayed from a script with its seed and path.
import { expect } from "bun:test";
import fc from "fast-check";
import { Assignment } from "../../../src/cluster/assignment.ts";
import { assignmentStats, minimumMoves, movesBetween, RangeStrategy, RoundRobinStrategy, StickyStrategy } from "../../../src/cluster/strategies/mod.ts";
import type { AssignmentConstraints, AssignmentStrategy, BrokerMetadata, PartitionInfo } from "../../../src/cluster/types.ts";
import { StreamBusError } from "../../../src/errors.ts";
import { seededRandom } from "../../../src/rng.ts";
import { broker, distinctMoveBound, eligibleIds, ruleProblems, spreadOver } from "./helpers.ts";

export interface Scenario {
  brokers: BrokerMetadata[];
  partitions: PartitionInfo[];
  constraints: AssignmentConstraints;
  weighted: boolean;
  seed: number;
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    brokers: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 200 })),
    racks: fc.integer({ min: 0, max: 6 }),
    skewedRacks: fc.boolean(),
    rackAware: fc.boolean(),
    weighted: fc.integer({ min: 0, max: 4 }).map((k) => k === 0),
    topics: fc.array(
      fc.record({ partitions: fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 1_000 })), rf: fc.integer({ min: 1, max: 5 }) }),
      { minLength: 1, maxLength: 5 },
    ),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map((s) => {
    const rng = seededRandom(s.seed);
    const brokers = Array.from({ length: s.brokers }, (_, i) => {
      const id = i + 1 + rng.int(3) * 1000; // ids need not be dense
      const rack = s.racks === 0 ? undefined : `rack-${s.skewedRacks ? rng.int(s.racks) : i % s.racks}`;
      return broker(id, { ...(rack ? { rack } : {}), ...(s.weighted ? { capacity: 1 + rng.int(3) } : {}) });
    });
    const unique = [...new Map(brokers.map((b) => [b.id, b])).values()];
    const partitions = s.topics.flatMap((t, ti) =>
      Array.from({ length: t.partitions }, (_, partitionId) => ({ topic: `topic-${ti}`, partitionId, replicas: t.rf })),
    );
    return { brokers: unique, partitions, constraints: { rackAware: s.rackAware }, weighted: s.weighted, seed: s.seed };
  });

/** Whether the rules can be met at all; strategies must throw Invalid exactly when they cannot. */
export function feasible(brokers: BrokerMetadata[], partitions: PartitionInfo[], constraints: AssignmentConstraints): boolean {
  const eligible = brokers.filter((b) => (b.status ?? "ALIVE") === "ALIVE" && !constraints.excludedBrokers?.has(b.id));
  const racks = new Map<string, number>();
  for (const b of eligible) racks.set(b.rack ?? "", (racks.get(b.rack ?? "") ?? 0) + 1);
  for (const f of new Set(partitions.map((p) => p.replicas))) {
    if (f > eligible.length) return false;
    if (constraints.rackAware) {
      let room = 0;
      for (const m of racks.values()) room += Math.min(Math.ceil(f / racks.size), m);
      if (room < f) return false;
    }
  }
  return true;
}

export function attempt<T>(fn: () => T, ok: boolean): T | undefined {
  if (ok) return fn();
  try {
    fn();
  } catch (e) {
    if (e instanceof StreamBusError && e.code === "Invalid") return undefined;
    throw e;
  }
  throw new Error("expected Invalid for an infeasible placement");
}

/** Balance checks that must hold for a fresh or rebalanced assignment. */
export function checkBalanced(
  a: Assignment,
  s: Scenario,
  brokers: BrokerMetadata[],
  constraints: AssignmentConstraints,
  partitions: PartitionInfo[],
  leadersStrict = true,
) {
  expect(ruleProblems(a, partitions, brokers, constraints)).toEqual([]);
  const stats = assignmentStats(a, brokers, constraints);
  if (constraints.rackAware) expect(stats.rackViolations).toBe(0);
  // Equal capacities without racks: every broker on target. Racks couple the brokers (a partition may be
  // forced into one of two small racks), so there a few may be one off. Capacity weights are checked for the
  // rules only: their rounded shares can be unreachable with one replica per partition per broker.
  if (s.weighted || (constraints.rackAware && !evenRacks(brokers, constraints))) return;
  expect(stats.brokersOffTarget).toBe(0);
  const ids = eligibleIds(brokers, constraints);
  const loads = a.brokerLoad();
  if (!s.weighted) {
    if (!constraints.rackAware) expect(stats.replicaSpread).toBeLessThanOrEqual(1);
    // Leaders balance whenever every broker hosts enough replicas to lead its share.
    const share = Math.ceil(partitions.length / ids.length);
    const enough = ids.every((id) => (loads.get(id) ?? 0) >= share);
    // Single-replica partitions pin their leaders; with racks, replica and leader balance can then exclude
    // each other, and replica balance (the data) wins.
    const pinned = partitions.some((p) => p.replicas === 1);
    if (leadersStrict && enough && !(pinned && constraints.rackAware)) {
      expect(stats.leaderSpread).toBeLessThanOrEqual(constraints.rackAware ? 2 : 1);
    }
  }
}

/** The eligible brokers span at most one rack (brokers without a rack count as one), so rackAware changes nothing. */
function singleRack(brokers: BrokerMetadata[], constraints: AssignmentConstraints): boolean {
  const ids = new Set(eligibleIds(brokers, constraints));
  return new Set(brokers.filter((b) => ids.has(b.id)).map((b) => b.rack ?? "")).size <= 1;
}

/** Every rack (of the eligible brokers) has the same number of brokers. */
export function evenRacks(brokers: BrokerMetadata[], constraints: AssignmentConstraints): boolean {
  const ids = new Set(eligibleIds(brokers, constraints));
  const sizes = new Map<string, number>();
  for (const b of brokers) if (ids.has(b.id)) sizes.set(b.rack ?? "", (sizes.get(b.rack ?? "") ?? 0) + 1);
  return new Set(sizes.values()).size <= 1;
}

/**
 * fast-check parameters. The seed is fixed so the suite is deterministic (CI never flakes on a fresh draw);
 * PROPERTY_SEED=<n> explores another one, and a failure prints its seed and path for replay.
 */
const propertySeed = Number(process.env.PROPERTY_SEED ?? 20261127);
export const runs = (n: number) => ({ numRuns: n, seed: propertySeed });

const strategies: AssignmentStrategy[] = [new RoundRobinStrategy(), new RangeStrategy(), new StickyStrategy()];
const sticky = new StickyStrategy();

/** assign: rules always hold; balanced cluster-wide and (equal capacity, no racks) per topic. */
export const assignProperty = fc.property(scenarioArb, fc.integer({ min: 0, max: 2 }), (s, which) => {
  const strategy = strategies[which];
  const a = attempt(() => strategy.assign(s.partitions, s.brokers, s.constraints), feasible(s.brokers, s.partitions, s.constraints));
  if (!a) return;
  checkBalanced(a, s, s.brokers, s.constraints, s.partitions);
  if (!s.weighted && !s.constraints.rackAware) {
    // Per topic too, unless single-replica partitions pin leaders: where that clashes with cluster-wide
    // balance, the cluster-wide balance wins.
    const pinned = s.partitions.some((p) => p.replicas === 1);
    const ids = eligibleIds(s.brokers);
    // Per-topic leaders: ≤ 1 almost always; the cluster-wide leader pass may leave one topic at 2 where its
    // per-topic guard finds no path (a known limit of the leader fix-up, reported).
    for (const t of pinned ? [] : a.topics()) {
      const topic = a.forTopic(t);
      expect(spreadOver(topic.brokerLoad(), ids)).toBeLessThanOrEqual(1);
      expect(spreadOver(topic.leaderLoad(), ids)).toBeLessThanOrEqual(2);
    }
  }
});

export const changeArb = fc.record({
  add: fc.integer({ min: 0, max: 10 }),
  remove: fc.integer({ min: 0, max: 3 }),
  fail: fc.integer({ min: 0, max: 3 }),
  exclude: fc.integer({ min: 0, max: 2 }),
});

/** The brokers after a change: some removed, some FAILED, some added (in existing racks), some excluded. */
export function applyChange(s: Scenario, change: { add: number; remove: number; fail: number; exclude: number }) {
  const rng = seededRandom(s.seed ^ 0x5eed);
  let after = [...s.brokers];
  for (let i = 0; i < change.remove && after.length > 0; i++) after.splice(rng.int(after.length), 1);
  for (let i = 0; i < change.fail && after.length > 0; i++) {
    const j = rng.int(after.length);
    after[j] = { ...after[j], status: "FAILED" };
  }
  const racks = [...new Set(s.brokers.map((b) => b.rack))];
  for (let i = 0; i < change.add; i++) {
    const rack = racks[rng.int(racks.length)];
    after.push(broker(10_000 + i, rack ? { rack } : {}));
  }
  const excluded = new Set(Array.from({ length: change.exclude }, () => after[rng.int(after.length)]?.id ?? 0));
  after = [...after].reverse(); // input order must not matter
  return { after, constraints: { ...s.constraints, excludedBrokers: excluded } };
}

/** Sticky after a cluster change: balanced, rules hold, moves == minimumMoves (no racks, or one), idempotent. */
export const stickyChangeProperty = fc.property(scenarioArb, changeArb, (s, change) => {
  const a = attempt(() => sticky.assign(s.partitions, s.brokers, s.constraints), feasible(s.brokers, s.partitions, s.constraints));
  if (!a) return;
  const { after, constraints } = applyChange(s, change);
  const next = attempt(() => sticky.rebalance(a, after, constraints), feasible(after, s.partitions, constraints));
  if (!next) return;
  checkBalanced(next, s, after, constraints, s.partitions);
  const min = minimumMoves(a, after, constraints);
  // minimumMoves ignores distinctness: a broker cannot take a departed replica of a partition it already
  // holds. `bound` (≥ min) accounts for that and is still a proven lower bound, so the slack below counts from it.
  const bound = distinctMoveBound(a, after, constraints);
  const moves = movesBetween(a, next);
  const onTarget = assignmentStats(next, after, constraints).brokersOffTarget === 0;
  if (onTarget) expect(moves).toBeGreaterThanOrEqual(bound);
  // Equal capacities without racks, at most one broker gone, no single-replica partitions: exactly the bound.
  // When several leave at once the bound can be unreachable (a broker fills at most one empty slot per
  // partition). Single-replica partitions pin leaderships: balancing those comes first and costs replica moves
  // (only the lower bound is checked then). With capacity weights the rounded targets may be unreachable.
  const before = new Set(eligibleIds(s.brokers, s.constraints));
  const departed = [...before].filter((id) => !eligibleIds(after, constraints).includes(id)).length;
  const pinned = s.partitions.some((p) => p.replicas === 1);
  const n = eligibleIds(after, constraints).length;
  const maxRf = Math.max(...s.partitions.map((p) => p.replicas));
  const exact = departed === 0 || (departed === 1 && 3 * maxRf <= n); // else every free broker may sit in the partition
  // rackAware over eligible brokers in one rack (or none set) is a no-op: the same bounds hold.
  const racksFree = !constraints.rackAware || singleRack(after, constraints);
  if (racksFree && !s.weighted && exact && !pinned) expect(moves).toBe(min);
  const slack = 2 * departed + 2 + (departed > 1 ? Math.ceil(min / 10) : 0);
  if (racksFree && !s.weighted && !pinned) expect(moves).toBeLessThanOrEqual(bound + slack);
  const again = sticky.rebalance(next, after, constraints);
  // Balanced already (replicas and leaders) → nothing moves. Where leaders could not be fully balanced, a
  // second pass may still find a repair move.
  const st = assignmentStats(next, after, constraints);
  if (st.brokersOffTarget === 0 && !s.weighted && st.leaderSpread <= 1) expect(movesBetween(next, again)).toBe(0);
});

/** An arbitrary (unbalanced, partly on departed brokers) assignment. */
export function arbitraryAssignment(s: Scenario): Assignment {
  const rng = seededRandom(s.seed);
  const pool = [...s.brokers.map((b) => b.id), 90_001, 90_002, 90_003];
  return new Assignment(
    s.partitions.map((p) => {
      const replicas: number[] = [];
      while (replicas.length < p.replicas) {
        const id = pool[rng.chance(0.5) ? rng.int(Math.min(3, pool.length)) : rng.int(pool.length)];
        if (!replicas.includes(id)) replicas.push(id);
      }
      return { topic: p.topic, partitionId: p.partitionId, replicas, leader: replicas[0] };
    }),
  );
}

/** Sticky from arbitrary assignments: balanced and rules hold; moves at or near the bound. */
export const stickyArbitraryProperty = fc.property(scenarioArb, (s) => {
  if (!feasible(s.brokers, s.partitions, s.constraints)) return;
  const current = arbitraryAssignment(s);
  const next = sticky.rebalance(current, s.brokers, s.constraints);
  // From an arbitrary start, rack-aware clusters full of single-replica partitions (whose leaders are pinned)
  // are only balanced on leaders as far as reordering and a few repair moves reach.
  const pinned = s.constraints.rackAware && s.partitions.some((p) => p.replicas === 1);
  checkBalanced(next, s, s.brokers, s.constraints, s.partitions, !pinned);
  const min = minimumMoves(current, s.brokers, s.constraints);
  const moves = movesBetween(current, next);
  if (assignmentStats(next, s.brokers, s.constraints).brokersOffTarget === 0) {
    expect(moves).toBeGreaterThanOrEqual(distinctMoveBound(current, s.brokers, s.constraints));
  }
  // Near the bound: the empty slots of departed brokers can be out of reach (one per partition per broker).
  // Single-replica partitions pin leaderships whose repair costs moves; only the lower bound is checked then.
  const single = s.partitions.some((p) => p.replicas === 1);
  const racksFree = !s.constraints.rackAware || singleRack(s.brokers, s.constraints);
  if (racksFree && !s.weighted && !single) expect(moves).toBeLessThanOrEqual(min + Math.ceil(min / 6) + 4);
});
