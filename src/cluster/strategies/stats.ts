import type { Assignment } from "../assignment.ts";
import type { AssignmentConstraints, BrokerMetadata } from "../types.ts";
import { buildCluster, type Cluster } from "./model.ts";
import { replicaTargets } from "./targets.ts";

/** How balanced an assignment is over the eligible brokers (ALIVE or no status, not excluded). */
export interface AssignmentStats {
  /** max − min replicas per eligible broker; with unequal capacities, of (count − capacity-weighted share). */
  replicaSpread: number;
  /** The same for leaderships. */
  leaderSpread: number;
  /** Partitions that do not span min(RF, racks) racks or put more than ⌈RF/racks⌉ replicas in one rack. */
  rackViolations: number;
  /** Replicas on brokers that are not eligible (failed, draining, excluded or unknown). */
  replicasOnIneligible: number;
  /** Eligible brokers whose replica count is outside their balanced target range [⌊share⌋, ⌈share⌉]. */
  brokersOffTarget: number;
}

/**
 * Balance and rule checks of an assignment against a broker list.
 *
 * @example
 * assignmentStats(a, brokers); // { replicaSpread: 1, leaderSpread: 0, rackViolations: 0, ... }
 */
export function assignmentStats(
  assignment: Assignment,
  brokers: BrokerMetadata[],
  constraints: AssignmentConstraints = {},
): AssignmentStats {
  const c = buildCluster(brokers, { ...constraints, rackAware: true });
  const parts = assignment.partitions();
  // The rack rule is judged on every replica whose broker is known (eligible or not); racks counted are
  // those of the eligible brokers. Replicas on ineligible brokers are reported separately.
  const rackName = new Map(brokers.map((b) => [b.id, b.rack ?? ""]));
  const rackCount = c.rackCount;
  const n = c.ids.length;
  const replicas = new Float64Array(n), leaders = new Float64Array(n);
  let onIneligible = 0, rackViolations = 0;
  for (const p of parts) {
    const idx = p.replicas.map((id) => c.index.get(id) ?? -1);
    for (const i of idx) i >= 0 ? replicas[i]++ : onIneligible++;
    const li = c.index.get(p.leader);
    if (li !== undefined) leaders[li]++;
    if (violatesRackRule(p.replicas.flatMap((id) => rackName.get(id) ?? []), rackCount)) rackViolations++;
  }
  const totalReplicas = parts.reduce((s, p) => s + p.replicas.length, 0);
  let off = 0;
  if (n > 0 && parts.length > 0) {
    const targets = replicaTargets(
      buildCluster(brokers, constraints),
      parts.map((p) => Math.min(p.replicas.length, n)),
    );
    for (let i = 0; i < n; i++) if (replicas[i] < targets.lo[i] || replicas[i] > targets.hi[i]) off++;
  }
  return {
    replicaSpread: spread(c, replicas, totalReplicas),
    leaderSpread: spread(c, leaders, parts.length),
    rackViolations,
    replicasOnIneligible: onIneligible,
    brokersOffTarget: off,
  };
}

/**
 * The provable lower bound on replica moves to balance `current` (every eligible broker within
 * [⌊share⌋, ⌈share⌉]): max(Σ surplus, Σ deficit), where surplus counts replicas above ⌈share⌉ and every
 * replica on an ineligible broker, and deficit counts replicas missing below ⌊share⌋. With equal capacities
 * this is Σ max(0, c_b − t_b) for the best balanced targets t (the highest current counts keep ⌈R/n⌉).
 *
 * @example
 * minimumMoves(sixPartitionsOnTwoBrokers, threeBrokers); // 4
 */
export function minimumMoves(current: Assignment, brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): number {
  const c = buildCluster(brokers, constraints);
  const parts = current.partitions();
  const n = c.ids.length;
  const count = new Float64Array(n);
  let surplus = 0, deficit = 0;
  for (const p of parts) {
    for (const id of p.replicas) {
      const i = c.index.get(id);
      if (i === undefined) surplus++;
      else count[i]++;
    }
  }
  if (n === 0 || parts.length === 0) return surplus;
  const t = replicaTargets(c, parts.map((p) => Math.min(p.replicas.length, n)));
  for (let i = 0; i < n; i++) {
    surplus += Math.max(0, count[i] - t.hi[i]);
    deficit += Math.max(0, t.lo[i] - count[i]);
  }
  return Math.max(surplus, deficit);
}

/** Replica moves from `a` to `b`: replicas of each partition in `b` on a broker that `a` did not have. */
export function movesBetween(a: Assignment, b: Assignment): number {
  let moves = 0;
  for (const p of b.partitions()) {
    const before = new Set(a.getReplicas(p.topic, p.partitionId));
    for (const r of p.replicas) if (!before.has(r)) moves++;
  }
  return moves;
}

/** Partitions whose leader differs between `a` and `b` (leadership changes, no data moved). */
export function leaderChangesBetween(a: Assignment, b: Assignment): number {
  let changes = 0;
  for (const p of b.partitions()) if (a.getLeader(p.topic, p.partitionId) !== p.leader) changes++;
  return changes;
}

function violatesRackRule(racks: string[], rackCount: number): boolean {
  if (rackCount <= 1 || racks.length === 0) return false;
  const byRack = new Map<string, number>();
  for (const r of racks) byRack.set(r, (byRack.get(r) ?? 0) + 1);
  const cap = Math.ceil(racks.length / rackCount);
  for (const k of byRack.values()) if (k > cap) return true;
  return byRack.size < Math.min(racks.length, rackCount);
}

function spread(c: Cluster, counts: Float64Array, total: number): number {
  const n = c.ids.length;
  if (n === 0) return 0;
  let weightSum = 0;
  for (let i = 0; i < n; i++) weightSum += c.weight[i];
  let max = -Infinity, min = Infinity;
  for (let i = 0; i < n; i++) {
    const d = c.equalWeights ? counts[i] : counts[i] - (total * c.weight[i]) / weightSum;
    max = Math.max(max, d);
    min = Math.min(min, d);
  }
  return c.equalWeights ? max - min : Math.round((max - min) * 1e6) / 1e6;
}
