import { MinHeap } from "./heap.ts";
import { balanceLeaders, type LeaderGuard } from "./leader-balancer.ts";
import { leadersWithin, repairLeaders } from "./leader-repair.ts";
import type { Assignment } from "../assignment.ts";
import type { AssignmentConstraints, BrokerMetadata, PartitionInfo } from "../types.ts";
import { buildCluster, type Cluster, fits, rackCap, toAssignment, type WorkPartition, workFromInfos } from "./model.ts";
import { balanceReplicas } from "./replica-balancer.ts";
import { computeTargets, integerTargets, leaderTargets, replicaTargets, type Targets } from "./targets.ts";

/** How a topic's leaders are laid out: striped one by one over brokers, or in contiguous ranges. */
export type Layout = "stripe" | "range";

/** A fresh assignment of `partitions` over `brokers` in `layout`: the `assign` of every strategy. */
export function assignFresh(
  partitions: PartitionInfo[],
  brokers: BrokerMetadata[],
  constraints: AssignmentConstraints,
  layout: Layout,
): Assignment {
  const c = buildCluster(brokers, constraints);
  const work = workFromInfos(partitions, c);
  placeAll(work, c, layout);
  return toAssignment(work, c);
}

/**
 * Places every partition from scratch, in place (all replicas of `work` must be -1).
 *
 * 1. Cluster-wide integer targets per broker (replicas and leaders; see targets.ts).
 * 2. Topic by topic: each broker gets ⌊share⌋ of the topic's replicas and leaders; the leftover units go to
 *    the brokers furthest below their cluster-wide target, so per-topic counts differ by at most one and the
 *    cluster-wide counts land exactly on the targets when the last topic is placed.
 * 3. Leaders are laid out per `layout` starting at a cursor that advances across topics; followers are the
 *    brokers with the most per-topic quota left (ties: the next brokers after the cursor), subject to the
 *    rack rule.
 * 4. Safety nets: the replica and leader balancers fix whatever the greedy could not meet exactly.
 */
export function placeAll(work: WorkPartition[], c: Cluster, layout: Layout): void {
  const n = c.ids.length;
  if (work.length === 0) return;
  const t = replicaTargets(c, work.map((w) => w.replicas.length));
  const target = integerTargets(t);
  const lt = leaderTargets(c, work.length, t.hi);
  const leaderTarget = integerTargets(lt);
  const totalReplicas = target.reduce((s, v) => s + v, 0);
  const placed = new Int32Array(n);
  const led = new Int32Array(n);
  let repCursor = 0, leadCursor = 0;

  for (let start = 0; start < work.length; ) {
    let end = start;
    while (end < work.length && work[end].topicIndex === work[start].topicIndex) end++;
    const parts = work.slice(start, end);
    const topicReplicas = parts.reduce((s, w) => s + w.replicas.length, 0);
    const rackRoom = new Float64Array(Math.max(1, c.rackCount));
    for (const w of parts) for (let r = 0; r < c.rackCount; r++) rackRoom[r] += rackCap(c, w.replicas.length, r);

    const rack = c.rackAware && c.rackCount > 1 ? { of: c.rackOf, room: rackRoom } : null;
    // A single-replica topic's replicas are its leaders, so they follow the leader targets.
    const single = topicReplicas === parts.length;
    const roomFor = (b: number, q: number) => target[b] - placed[b] - q > 0;
    const leadFirst = single
      ? share(parts.length, lt.x, work.length, leaderTarget, led, leadCursor, parts.length, rack, undefined, roomFor)
      : undefined;
    const repQuota = leadFirst ?? share(topicReplicas, t.x, totalReplicas, target, placed, repCursor, parts.length, rack);
    const leadQuota = leadFirst ?? share(parts.length, lt.x, work.length, leaderTarget, led, leadCursor, parts.length, null, repQuota);
    // Range also shifts by the topic's ordinal, so topics whose sizes are multiples of n start apart.
    const leaders = leaderSequence(leadQuota, layout === "range" ? (leadCursor + work[start].topicIndex) % n : leadCursor, layout);

    // Followers go to the brokers with the most of the topic's quota left, counting leaderships still to
    // come: a broker that leads the last partitions must take its follower share earlier (Havel–Hakimi).
    const follow = new Int32Array(n);
    const leadLeft = Int32Array.from(leadQuota);
    for (let b = 0; b < n; b++) follow[b] = repQuota[b] - leadQuota[b];
    const key = (b: number) => (follow[b] > 0 ? -(follow[b] + leadLeft[b]) : 1 - follow[b]);
    const heap = new MinHeap();
    const rot = (b: number) => (b - repCursor + n * 2) % n;
    for (let b = 0; b < n; b++) heap.push(key(b), rot(b), b);
    const stash: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const reps = parts[i].replicas;
      const leader = leaders[i];
      reps[0] = leader;
      placed[leader]++;
      led[leader]++;
      leadLeft[leader]--;
      heap.push(key(leader), rot(leader), leader);
      for (let s = 1; s < reps.length; s++) {
        let chosen = -1;
        while (heap.size > 0) {
          const e = heap.pop()!;
          const b = e.value;
          if (e.key !== key(b)) continue;
          stash.push(b);
          if (placed[b] < c.maxPerBroker && fits(c, reps, s, b)) {
            chosen = b;
            break;
          }
        }
        for (const b of stash) if (b !== chosen) heap.push(key(b), rot(b), b);
        stash.length = 0;
        if (chosen < 0) break; // leave the slot empty; the replica balancer fills it
        reps[s] = chosen;
        placed[chosen]++;
        follow[chosen]--;
        heap.push(key(chosen), rot(chosen), chosen);
      }
    }
    repCursor = (repCursor + topicReplicas) % n;
    leadCursor = (leadCursor + parts.length) % n;
    start = end;
  }

  balanceReplicas(work, c, t);
  balanceAllLeaders(work, c, t);
}

/**
 * Leaders balanced within each topic first, then cluster-wide without pushing any topic out of its own
 * bounds (the guard); reordering only, so no replica moves.
 */
export function balanceAllLeaders(work: WorkPartition[], c: Cluster, replicaTargets: Targets, perTopic = true): void {
  const n = c.ids.length;
  const hostedAll = new Float64Array(n);
  for (const w of work) for (const r of w.replicas) hostedAll[r]++;
  const topicLo: Int32Array[] = [], topicHi: Int32Array[] = [], topicCnt: Int32Array[] = [];
  for (let start = 0; start < work.length; ) {
    let end = start;
    while (end < work.length && work[end].topicIndex === work[start].topicIndex) end++;
    const subset = Array.from({ length: end - start }, (_, i) => start + i);
    if (perTopic) {
      const hosted = new Float64Array(n);
      for (const p of subset) for (const r of work[p].replicas) hosted[r]++;
      const tt = computeTargets(c, subset.length, hosted);
      balanceLeaders(work, subset, n, tt.lo, tt.hi);
      const cnt = new Int32Array(n);
      for (const p of subset) cnt[work[p].replicas[0]]++;
      topicLo.push(tt.lo), topicHi.push(tt.hi), topicCnt.push(cnt);
    }
    start = end;
  }
  const gt: Targets = leaderTargets(c, work.length, hostedAll);
  const guard: LeaderGuard | undefined = perTopic
    ? {
      allow: (p, from, to) => {
        const ti = work[p].topicIndex;
        return topicCnt[ti][from] - 1 >= topicLo[ti][from] && topicCnt[ti][to] + 1 <= topicHi[ti][to];
      },
      moved: (p, from, to) => {
        const ti = work[p].topicIndex;
        topicCnt[ti][from]--, topicCnt[ti][to]++;
      },
    }
    : undefined;
  const all = Array.from({ length: work.length }, (_, i) => i);
  balanceLeaders(work, all, n, gt.lo, gt.hi, guard);
  if (leadersWithin(work, n, gt)) return;
  // Cluster-wide balance wins over per-topic balance where the two conflict.
  if (guard) balanceLeaders(work, all, n, gt.lo, gt.hi);
  if (leadersWithin(work, n, gt)) return;
  // Repair one step at a time, letting reordering absorb each, until balanced or stuck.
  for (let round = 0; round < 4 * n && !leadersWithin(work, n, gt); round++) {
    if (repairLeaders(work, c, replicaTargets, gt, 1) === 0) break;
    balanceLeaders(work, all, n, gt.lo, gt.hi);
  }
}

/**
 * One topic's quota per broker: ⌊units · x_b / total⌋, plus one for the brokers furthest below their
 * cluster-wide target (ties: nearest after the cursor), within `perBroker`, the rack room and `within`.
 */
function share(
  units: number,
  x: Float64Array,
  total: number,
  target: Int32Array,
  done: Int32Array,
  cursor: number,
  perBroker: number,
  rack: { of: Int32Array; room: Float64Array } | null,
  within?: Int32Array,
  preferred?: (b: number, quota: number) => boolean,
): Int32Array {
  const n = x.length;
  const quota = new Int32Array(n);
  let left = units;
  for (let b = 0; b < n; b++) {
    const s = (units * x[b]) / total;
    let q = Math.min(perBroker, Math.floor(s + 1e-9 * Math.max(1, s)));
    if (within) q = Math.min(q, within[b]);
    quota[b] = q;
    left -= q;
    if (rack) rack.room[rack.of[b]] -= q;
  }
  if (left <= 0) return quota;
  // Sort by (deficit desc, distance after cursor asc), packed into one number for a native sort.
  const keys = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    const deficit = target[b] - done[b] - quota[b];
    keys[b] = (2 ** 30 - deficit) * n + ((b - cursor + n) % n);
  }
  keys.sort();
  const order = new Int32Array(n);
  for (let j = 0; j < n; j++) order[j] = ((keys[j] % n) + cursor) % n;
  // Later passes relax the rack hint, then `within`, so every unit is handed out; the per-partition rules
  // are enforced when replicas are chosen, and the balancers repair what a relaxed pass costs.
  for (let pass = preferred ? -1 : 0; pass < 3 && left > 0; pass++) {
    for (const b of order) {
      if (left <= 0) break;
      if (quota[b] + 1 > perBroker) continue;
      if (pass < 0 && !preferred!(b, quota[b])) continue;
      if (pass < 2 && within && quota[b] + 1 > within[b]) continue;
      if (pass <= 0 && rack) {
        if (rack.room[rack.of[b]] < 1) continue;
        rack.room[rack.of[b]]--;
      }
      quota[b]++;
      left--;
    }
  }
  return quota;
}

/**
 * The leader of each partition of a topic, in partition order. stripe: one round over the brokers after the
 * cursor, then the next round (broker b leads partitions i, i + n, ...); range: each broker leads one
 * contiguous run, runs in broker order after the cursor, so every topic starts on a different broker.
 */
function leaderSequence(quota: Int32Array, cursor: number, layout: Layout): number[] {
  const n = quota.length;
  const seq: number[] = [];
  if (layout === "range") {
    for (let j = 0; j < n; j++) {
      const b = (cursor + j) % n;
      for (let k = 0; k < quota[b]; k++) seq.push(b);
    }
    return seq;
  }
  let max = 0;
  for (let b = 0; b < n; b++) max = Math.max(max, quota[b]);
  for (let round = 0; round < max; round++) {
    for (let j = 0; j < n; j++) {
      const b = (cursor + j) % n;
      if (quota[b] > round) seq.push(b);
    }
  }
  return seq;
}
