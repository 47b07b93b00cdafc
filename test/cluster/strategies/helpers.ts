import type { Assignment } from "../../../src/cluster/assignment.ts";
import { isEligible, minimumMoves } from "../../../src/cluster/strategies/mod.ts";
import { buildCluster } from "../../../src/cluster/strategies/model.ts";
import { replicaTargets } from "../../../src/cluster/strategies/targets.ts";
import type { AssignmentConstraints, BrokerMetadata, PartitionInfo } from "../../../src/cluster/types.ts";

export const broker = (id: number, extra: Partial<BrokerMetadata> = {}): BrokerMetadata => ({
  id,
  host: "localhost",
  port: 9000 + id,
  ...extra,
});

export const topicPartitions = (topic: string, count: number, replicas: number): PartitionInfo[] =>
  Array.from({ length: count }, (_, partitionId) => ({ topic, partitionId, replicas }));

/**
 * Rule checks that hold for every strategy output: each requested partition present once with its
 * replication factor, distinct replicas on eligible brokers, leader = replicas[0], maxPartitionsPerBroker.
 * Returns the problems found (empty when fine) so a failing property prints them.
 */
export function ruleProblems(
  a: Assignment,
  partitions: Array<{ topic: string; partitionId: number; replicas: number }>,
  brokers: BrokerMetadata[],
  constraints: AssignmentConstraints = {},
): string[] {
  const problems: string[] = [];
  const eligible = new Set(brokers.filter((b) => isEligible(b, constraints.excludedBrokers)).map((b) => b.id));
  if (a.totalPartitions() !== partitions.length) problems.push(`has ${a.totalPartitions()} partitions, want ${partitions.length}`);
  for (const p of partitions) {
    const reps = a.getReplicas(p.topic, p.partitionId);
    const where = `${p.topic}/${p.partitionId} ${JSON.stringify(reps)}`;
    if (reps.length !== p.replicas) problems.push(`${where}: RF ${reps.length}, want ${p.replicas}`);
    if (new Set(reps).size !== reps.length) problems.push(`${where}: duplicate replica`);
    for (const r of reps) if (!eligible.has(r)) problems.push(`${where}: broker ${r} not eligible`);
    if (a.getLeader(p.topic, p.partitionId) !== reps[0]) problems.push(`${where}: leader is not replicas[0]`);
    if (problems.length > 5) break;
  }
  if (constraints.maxPartitionsPerBroker !== undefined) {
    for (const [b, n] of a.brokerLoad()) {
      if (n > constraints.maxPartitionsPerBroker) problems.push(`broker ${b} hosts ${n} > ${constraints.maxPartitionsPerBroker}`);
    }
  }
  return problems;
}

/** max − min of per-broker counts over the given broker ids (absent ones count 0). */
export function spreadOver(counts: Map<number, number>, ids: number[]): number {
  const values = ids.map((id) => counts.get(id) ?? 0);
  return values.length ? Math.max(...values) - Math.min(...values) : 0;
}

export function eligibleIds(brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): number[] {
  return brokers.filter((b) => isEligible(b, constraints.excludedBrokers)).map((b) => b.id);
}

/**
 * A lower bound on replica moves that, unlike `minimumMoves`, sees distinctness: a broker takes at most one
 * replica of a partition, so it cannot take the replica of a departed broker from a partition it already
 * holds. Moves = H + R: H counts replicas on ineligible brokers ("holes", each needs a new home), R counts
 * replicas taken off eligible brokers (each needs one too). For any set T of eligible brokers:
 *  - T must gain need_T = Σ_T (lo_b − c_b) net. Partitions with holes give T at most
 *    cap_T = Σ_p min(holes_p, |T \ p|) (one replica per broker); every other replica T gains comes from a
 *    partition without holes, where each added replica replaces a removed one: R ≥ need_T − cap_T.
 *  - At least forced_T = Σ_p max(0, holes_p − |(E \ T) \ p|) holes must land in T, which has room
 *    Σ_T (hi_b − c_b); the excess must leave T: R ≥ forced_T − room_T.
 * Every T is tried while the eligible brokers are few (≤ 12, where RF near n makes distinctness bind) and
 * the partitions with holes fall into few kinds; otherwise single brokers only. Also R ≥ Σ_b max(0, c_b − hi_b). Holds for any targets [lo, hi].
 */
export function distinctMoveBound(current: Assignment, brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): number {
  const c = buildCluster(brokers, constraints);
  const n = c.ids.length;
  const parts = current.partitions();
  const min = minimumMoves(current, brokers, constraints);
  if (n === 0 || parts.length === 0) return min;
  const count = new Float64Array(n);
  let holes = 0;
  // Partitions with holes, as (eligible brokers held, holes) with multiplicity.
  const classes = new Map<string, { held: number[]; h: number; k: number }>();
  for (const p of parts) {
    const held: number[] = [];
    for (const id of p.replicas) {
      const i = c.index.get(id);
      if (i !== undefined) count[i]++, held.push(i);
    }
    const h = p.replicas.length - held.length;
    if (h === 0) continue;
    holes += h;
    const key = `${held.sort((x, y) => x - y).join(",")}/${h}`;
    const e = classes.get(key);
    e ? e.k++ : classes.set(key, { held, h, k: 1 });
  }
  const t = replicaTargets(c, parts.map((p) => Math.min(p.replicas.length, n)));
  let r = 0;
  for (let b = 0; b < n; b++) r += Math.max(0, count[b] - t.hi[b]);
  const inT = new Uint8Array(n);
  const trySet = (members: number[]) => {
    inT.fill(0);
    let need = 0, room = 0, cap = 0, forced = 0;
    for (const b of members) (inT[b] = 1), (need += t.lo[b] - count[b]), (room += t.hi[b] - count[b]);
    for (const { held, h, k } of classes.values()) {
      let heldIn = 0;
      for (const b of held) heldIn += inT[b];
      const freeIn = members.length - heldIn, freeOut = n - members.length - (held.length - heldIn);
      cap += k * Math.min(h, freeIn);
      forced += k * Math.max(0, h - freeOut);
    }
    r = Math.max(r, need - cap, forced - room);
  };
  if (n <= 12 && classes.size << n <= 1 << 21) {
    for (let mask = 1; mask < 1 << n; mask++) trySet([...Array(n).keys()].filter((b) => (mask >> b) & 1));
  } else {
    for (let b = 0; b < n; b++) trySet([b]);
  }
  return Math.max(min, holes + r);
}
