import { StreamBusError } from "../../errors.ts";
import { Assignment } from "../assignment.ts";
import type { AssignmentConstraints, BrokerMetadata, PartitionInfo, PartitionPlacement } from "../types.ts";

/**
 * The strategies' working view of a cluster: eligible brokers by dense index (ascending id), their weights
 * and racks. Every algorithm works on indexes so loops stay on typed arrays and the order is the id order.
 */
export interface Cluster {
  /** Eligible broker ids, ascending. Index i in every per-broker array means broker ids[i]. */
  ids: number[];
  index: Map<number, number>;
  /** Capacity weight per broker (1 when absent). */
  weight: Float64Array;
  equalWeights: boolean;
  rackAware: boolean;
  /** Rack index per broker; brokers without a rack share one rack. All 0 when not rack aware. */
  rackOf: Int32Array;
  rackCount: number;
  rackSize: Int32Array;
  rackNames: string[];
  /** maxPartitionsPerBroker, or Infinity. */
  maxPerBroker: number;
}

/** A partition while being placed: replicas are broker indexes; -1 is a slot still to fill. */
export interface WorkPartition {
  topic: string;
  partitionId: number;
  /** Index of the topic in sorted topic order. */
  topicIndex: number;
  replicas: number[];
}

/** ALIVE (or no status yet) and not excluded: the only brokers a strategy places replicas on. */
export function isEligible(b: BrokerMetadata, excluded?: Set<number>): boolean {
  return (b.status === undefined || b.status === "ALIVE") && !(excluded?.has(b.id) ?? false);
}

/** Builds the cluster view; throws Invalid for malformed brokers or constraints. */
export function buildCluster(brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): Cluster {
  if (!Array.isArray(brokers)) throw new StreamBusError("Invalid", "brokers must be an array of BrokerMetadata");
  const max = constraints.maxPartitionsPerBroker;
  if (max !== undefined && !(Number.isInteger(max) && max > 0)) {
    throw new StreamBusError("Invalid", `maxPartitionsPerBroker must be a positive integer, got ${max}`);
  }
  const seen = new Set<number>();
  const eligible: BrokerMetadata[] = [];
  for (const b of brokers) {
    if (!b || !Number.isInteger(b.id) || b.id <= 0) {
      throw new StreamBusError("Invalid", `broker id must be a positive integer, got ${b?.id}`);
    }
    if (seen.has(b.id)) throw new StreamBusError("Invalid", `broker ${b.id} is listed twice`);
    seen.add(b.id);
    if (b.capacity !== undefined && !(Number.isFinite(b.capacity) && b.capacity > 0)) {
      throw new StreamBusError("Invalid", `broker ${b.id} capacity must be a positive number, got ${b.capacity}`);
    }
    if (isEligible(b, constraints.excludedBrokers)) eligible.push(b);
  }
  eligible.sort((a, b) => a.id - b.id);
  const n = eligible.length;
  const weight = new Float64Array(n);
  const rackOf = new Int32Array(n);
  const rackAware = constraints.rackAware === true;
  const rackKeys = rackAware ? [...new Set(eligible.map((b) => b.rack ?? ""))].sort() : [""];
  const rackIdx = new Map(rackKeys.map((r, i) => [r, i]));
  const rackSize = new Int32Array(Math.max(1, rackKeys.length));
  eligible.forEach((b, i) => {
    weight[i] = b.capacity ?? 1;
    rackOf[i] = rackAware ? rackIdx.get(b.rack ?? "")! : 0;
    rackSize[rackOf[i]]++;
  });
  return {
    ids: eligible.map((b) => b.id),
    index: new Map(eligible.map((b, i) => [b.id, i])),
    weight,
    equalWeights: weight.every((w) => w === weight[0]),
    rackAware,
    rackOf,
    rackCount: n === 0 ? 0 : rackKeys.length,
    rackSize,
    rackNames: rackKeys,
    maxPerBroker: max ?? Infinity,
  };
}

/** Most replicas of one partition with replication factor f that rack r may hold: ⌈f / racks⌉. */
export function rackCap(c: Cluster, f: number, r: number): number {
  return c.rackAware ? Math.min(Math.ceil(f / c.rackCount), c.rackSize[r]) : f;
}

/** Distinct racks a partition with replication factor f must span: min(f, racks). */
export function racksNeeded(c: Cluster, f: number): number {
  return c.rackAware ? Math.min(f, c.rackCount) : 1;
}

/** Throws Invalid when replication factor f cannot be placed on the eligible brokers under the rules. */
export function checkFactor(c: Cluster, f: number, what: string): void {
  const n = c.ids.length;
  if (!Number.isInteger(f) || f < 1) {
    throw new StreamBusError("Invalid", `${what}: replication factor must be a positive integer, got ${f}`);
  }
  if (f > n) {
    throw new StreamBusError(
      "Invalid",
      `${what} needs ${f} replicas but only ${n} broker(s) are eligible (ALIVE and not excluded)` +
        (n ? `: ${c.ids.join(", ")}` : "") + "; add brokers or lower the replication factor",
      { replicationFactor: f, eligibleBrokers: n },
    );
  }
  if (c.rackAware) {
    let room = 0;
    for (let r = 0; r < c.rackCount; r++) room += rackCap(c, f, r);
    if (room < f) {
      throw new StreamBusError(
        "Invalid",
        `${what}: replication factor ${f} cannot be spread rack-aware over racks ` +
          c.rackNames.map((r, i) => `${r || "(no rack)"}×${c.rackSize[i]}`).join(", ") +
          ` (at most ⌈${f}/${c.rackCount}⌉ per rack); add brokers to the small racks or disable rackAware`,
        { replicationFactor: f },
      );
    }
  }
}

/** Sorts and checks partitions to place; throws Invalid on bad or duplicate entries. */
export function workFromInfos(partitions: PartitionInfo[], c: Cluster): WorkPartition[] {
  if (!Array.isArray(partitions)) throw new StreamBusError("Invalid", "partitions must be an array of PartitionInfo");
  let inOrder = true;
  for (let i = 1; i < partitions.length && inOrder; i++) inOrder = comparePartitions(partitions[i - 1], partitions[i]) <= 0;
  const sorted = inOrder ? partitions : [...partitions].sort(comparePartitions);
  const topics = topicIndexer();
  const checked = new Set<number>();
  const out: WorkPartition[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i];
    if (!p || typeof p.topic !== "string" || p.topic.length === 0 || !Number.isInteger(p.partitionId) || p.partitionId < 0) {
      throw new StreamBusError("Invalid", "each partition needs a non-empty topic and an integer partitionId >= 0");
    }
    if (i > 0 && sorted[i - 1].topic === p.topic && sorted[i - 1].partitionId === p.partitionId) {
      throw new StreamBusError("Invalid", `partition ${p.topic}/${p.partitionId} is listed twice`);
    }
    if (!checked.has(p.replicas)) {
      checkFactor(c, p.replicas, `partition ${p.topic}/${p.partitionId}`);
      checked.add(p.replicas);
    }
    out.push({ topic: p.topic, partitionId: p.partitionId, topicIndex: topics(p.topic), replicas: new Array(p.replicas).fill(-1) });
  }
  return out;
}

/**
 * Work partitions from an existing assignment. Replicas on ineligible or unknown brokers (and duplicates)
 * become -1 slots to refill; the preferred leader is moved to index 0 when it is still eligible.
 */
export function workFromAssignment(current: Assignment, c: Cluster): WorkPartition[] {
  if (!(current instanceof Assignment)) throw new StreamBusError("Invalid", "current must be an Assignment");
  const topics = topicIndexer();
  const checked = new Set<number>();
  return current.partitions().map((p) => {
    const f = p.replicas.length;
    if (!checked.has(f)) {
      checkFactor(c, f, `partition ${p.topic}/${p.partitionId}`);
      checked.add(f);
    }
    const replicas = new Array<number>(f);
    for (let j = 0; j < f; j++) {
      const i = c.index.get(p.replicas[j]);
      let dup = false;
      for (let k = 0; k < j && i !== undefined; k++) dup ||= replicas[k] === i;
      replicas[j] = i === undefined || dup ? -1 : i;
    }
    // The current leader stays first; failing that a surviving replica leads rather than an empty slot.
    const li = c.index.get(p.leader);
    let first = li === undefined ? -1 : replicas.indexOf(li);
    if (first < 0) first = replicas.findIndex((r) => r >= 0);
    if (first > 0) replicas.unshift(...replicas.splice(first, 1));
    return { topic: p.topic, partitionId: p.partitionId, topicIndex: topics(p.topic), replicas };
  });
}

/** Back to the public form: replicas[0] is the leader. */
export function toAssignment(work: WorkPartition[], c: Cluster, version = 0): Assignment {
  const placements: PartitionPlacement[] = work.map((w) => {
    const replicas = w.replicas.map((i) => c.ids[i]);
    return { topic: w.topic, partitionId: w.partitionId, replicas, leader: replicas[0] };
  });
  return new Assignment(placements, version);
}

export function comparePartitions(a: { topic: string; partitionId: number }, b: { topic: string; partitionId: number }) {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partitionId - b.partitionId;
}

/** Dense topic numbers in first-seen order (inputs are sorted, so that is topic order). */
function topicIndexer(): (topic: string) => number {
  const m = new Map<string, number>();
  return (t) => {
    let i = m.get(t);
    if (i === undefined) m.set(t, (i = m.size));
    return i;
  };
}

let rackMark = new Int32Array(16);
let rackStamp = 0;

/**
 * True when broker v may take `slot` of a partition whose replicas are `reps` (-1 = empty slot): v is not
 * already a replica, and (rack aware) v's rack stays within ⌈f/racks⌉ and the partition can still span
 * min(f, racks) racks with the slots left empty.
 */
export function fits(c: Cluster, reps: number[], slot: number, v: number): boolean {
  for (let j = 0; j < reps.length; j++) if (j !== slot && reps[j] === v) return false;
  if (!c.rackAware || c.rackCount <= 1) return true;
  if (rackMark.length < c.rackCount) rackMark = new Int32Array(c.rackCount * 2);
  const stamp = ++rackStamp;
  const rv = c.rackOf[v];
  let same = 0, holes = 0, distinct = 0;
  for (let j = 0; j < reps.length; j++) {
    if (j === slot) continue;
    const r = reps[j];
    if (r < 0) {
      holes++;
      continue;
    }
    const rk = c.rackOf[r];
    if (rk === rv) same++;
    if (rackMark[rk] !== stamp) (rackMark[rk] = stamp), distinct++;
  }
  const f = reps.length;
  if (same + 1 > rackCap(c, f, rv)) return false;
  if (rackMark[rv] !== stamp) distinct++;
  return distinct + holes >= racksNeeded(c, f);
}

let rackCount = new Int32Array(16);

/** True when the partition's filled replicas break the rack rule (rack aware only). */
export function breaksRackRule(c: Cluster, reps: number[]): boolean {
  if (!c.rackAware || c.rackCount <= 1) return false;
  if (rackMark.length < c.rackCount) rackMark = new Int32Array(c.rackCount * 2);
  if (rackCount.length < c.rackCount) rackCount = new Int32Array(c.rackCount * 2);
  const stamp = ++rackStamp;
  const f = reps.length;
  let holes = 0, distinct = 0;
  for (const r of reps) {
    if (r < 0) {
      holes++;
      continue;
    }
    const rk = c.rackOf[r];
    if (rackMark[rk] !== stamp) (rackMark[rk] = stamp), (rackCount[rk] = 0), distinct++;
    if (++rackCount[rk] > rackCap(c, f, rk)) return true;
  }
  return distinct + holes < racksNeeded(c, f);
}
