/**
 * The meaning of each metadata operation. Every handler checks everything first and only then changes the
 * state, so a rejection (a thrown StreamBusError) leaves the state exactly as it was. No clock, no randomness:
 * times come stamped in the operation.
 */
import { StreamBusError } from "../errors.ts";
import { brokerAddress, type BrokerStatus } from "../cluster/types.ts";
import { cloneBroker, clonePartition, cloneTopic, type MetadataState, sameIds, type TopicEntry } from "./metadata-state.ts";
import type {
  BrokerRecord,
  MetadataEvent,
  Operation,
  OperationValues,
  PartitionRecord,
  TopicPlacementInput,
  TopicRecord,
} from "./types.ts";

export interface Applied {
  value: OperationValues[Operation["type"]];
  /** True when replicas or leaders changed: the assignment version is bumped. */
  placementsChanged: boolean;
}

const reject = (code: "NotFound" | "Invalid" | "Conflict", message: string, details: Record<string, unknown> = {}): never => {
  throw new StreamBusError(code, message, details);
};

function broker(s: MetadataState, id: number): BrokerRecord {
  return s.brokers.get(id) ?? reject("NotFound", `broker ${id} is not registered`, { brokerId: id });
}
function topic(s: MetadataState, name: string): TopicEntry {
  return s.topics.get(name) ?? reject("NotFound", `topic "${name}" does not exist`, { topic: name });
}
function partition(s: MetadataState, name: string, id: number): PartitionRecord {
  return topic(s, name).partitions.get(id) ??
    reject("NotFound", `partition ${name}/${id} does not exist`, { topic: name, partitionId: id });
}
function requireKnownBrokers(s: MetadataState, ids: number[], where: string) {
  const unknown = ids.filter((id) => !s.brokers.has(id));
  if (unknown.length > 0) {
    reject("Invalid", `${where} names unregistered broker(s) ${unknown.join(", ")}`, { brokerIds: unknown });
  }
}
/** Two live brokers must not share an address; a FAILED or DECOMMISSIONED one may be replaced in place. */
function requireFreeAddress(s: MetadataState, id: number, host: string, port: number) {
  const ids = s.brokers.idsAt(host, port);
  if (!ids) return;
  // The lowest conflicting id, so every replica names the same broker whatever order it learned them in.
  let hit: BrokerRecord | undefined;
  for (const other of ids) {
    const b = s.brokers.get(other)!;
    if (b.id !== id && b.status !== "FAILED" && b.status !== "DECOMMISSIONED" && (!hit || b.id < hit.id)) hit = b;
  }
  if (hit) {
    reject("Conflict", `address ${brokerAddress({ host, port })} is already registered by broker ${hit.id} (${hit.status})`, {
      brokerId: hit.id,
    });
  }
}
const optionalKeys = ["rack", "capacity", "diskCapacityGB", "diskUsedGB", "networkBandwidth", "version", "tags"] as const;

/**
 * The status a re-registration without an explicit status gets: an ALIVE or DRAINING broker keeps it (its
 * replicas stay put), anything else starts over as STARTING. Decided here, at apply time, so a registration
 * needs no read first and cannot race with a status change.
 */
function keptStatus(old: BrokerRecord | undefined): BrokerStatus {
  return old?.status === "ALIVE" || old?.status === "DRAINING" ? old.status : "STARTING";
}

/**
 * Applies one validated operation, appending its events; throws StreamBusError (state untouched) to reject.
 * A result may share records with the state (they are replaced, never changed in place): the FSM copies a
 * result before it hands it out. Events get copies, as listeners receive them directly.
 */
export function applyOperation(s: MetadataState, op: Operation, events: MetadataEvent[]): Applied {
  switch (op.type) {
    case "registerBroker": {
      const b = op.broker;
      requireFreeAddress(s, b.id, b.host, b.port);
      const old = s.brokers.get(b.id);
      const status = b.status ?? keptStatus(old);
      const rec: BrokerRecord = { id: b.id, host: b.host, port: b.port } as BrokerRecord;
      for (const k of optionalKeys) if (b[k] !== undefined) (rec as unknown as Record<string, unknown>)[k] = k === "tags" ? { ...b.tags } : b[k];
      rec.status = status;
      rec.epoch = (old?.epoch ?? 0) + 1;
      rec.registeredAt = op.at;
      rec.lastHeartbeat = b.lastHeartbeat ?? old?.lastHeartbeat ?? 0;
      rec.statusChangedAt = old && old.status === status ? old.statusChangedAt : op.at;
      s.brokers.set(rec.id, rec);
      events.push({ type: old ? "brokerUpdated" : "brokerAdded", broker: cloneBroker(rec) });
      return { value: { broker: rec, created: !old }, placementsChanged: false };
    }
    case "unregisterBroker": {
      broker(s, op.brokerId);
      s.brokers.delete(op.brokerId);
      events.push({ type: "brokerRemoved", brokerId: op.brokerId });
      return { value: { brokerId: op.brokerId }, placementsChanged: false };
    }
    case "updateBroker": {
      const old = broker(s, op.brokerId);
      const p = op.patch;
      const host = p.host ?? old.host, port = p.port ?? old.port;
      if (host !== old.host || port !== old.port) requireFreeAddress(s, old.id, host, port);
      const rec = cloneBroker(old);
      rec.host = host;
      rec.port = port;
      for (const k of optionalKeys) {
        const v = p[k];
        if (v === null) delete rec[k];
        else if (v !== undefined) (rec as unknown as Record<string, unknown>)[k] = k === "tags" ? { ...(v as object) } : v;
      }
      if (p.lastHeartbeat !== undefined) rec.lastHeartbeat = p.lastHeartbeat;
      s.brokers.set(rec.id, rec);
      events.push({ type: "brokerUpdated", broker: cloneBroker(rec) });
      return { value: { broker: rec }, placementsChanged: false };
    }
    case "updateBrokerStatus": {
      const old = broker(s, op.brokerId);
      const rec = { ...old };
      // A broker turns ALIVE on a heartbeat, so the status time is also its latest heartbeat.
      if (op.status === "ALIVE") rec.lastHeartbeat = Math.max(rec.lastHeartbeat, op.at);
      if (op.status !== old.status) {
        rec.status = op.status;
        rec.statusChangedAt = op.at;
        events.push({ type: "brokerStatusChanged", broker: cloneBroker(rec), previous: old.status });
      }
      s.brokers.set(rec.id, rec);
      return { value: { broker: rec, previous: old.status }, placementsChanged: false };
    }
    case "createTopic": {
      if (s.topics.has(op.name)) reject("Conflict", `topic "${op.name}" already exists`, { topic: op.name });
      const ids = op.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
      if (!ids.every((id, i) => id === i)) {
        reject("Invalid", `topic "${op.name}" needs partitions 0..${ids.length - 1} exactly, got ${ids.join(",")}`);
      }
      requireKnownBrokers(s, op.partitions.flatMap((p) => p.replicas), `topic "${op.name}"`);
      const record: TopicRecord = { name: op.name, config: { ...op.config }, createdAt: op.at, partitionCount: ids.length };
      const entry: TopicEntry = { record, partitions: new Map() };
      for (const p of [...op.partitions].sort((a, b) => a.partitionId - b.partitionId)) {
        entry.partitions.set(p.partitionId, newPartition(op.name, p.partitionId, p.replicas, p.leader));
      }
      s.topics.set(op.name, entry);
      const parts = s.sortedPartitions(entry);
      events.push({ type: "topicCreated", topic: op.name, config: { ...record.config } });
      events.push({ type: "partitionsChanged", partitions: parts.map(clonePartition) });
      return { value: { topic: cloneTopic(record), partitions: parts.length }, placementsChanged: true };
    }
    case "deleteTopic": {
      const entry = topic(s, op.name);
      s.topics.delete(op.name);
      events.push({ type: "topicDeleted", topic: op.name });
      return { value: { topic: op.name, partitions: entry.partitions.size }, placementsChanged: true };
    }
    case "updateTopicConfig": {
      const entry = topic(s, op.name);
      const config: Record<string, unknown> = { ...entry.record.config };
      for (const [k, v] of Object.entries(op.config)) {
        if (v === null) delete config[k];
        else config[k] = v;
      }
      const sorted = Object.fromEntries(Object.keys(config).sort().map((k) => [k, config[k]]));
      entry.record = { ...entry.record, config: sorted };
      events.push({ type: "topicConfigChanged", topic: op.name, config: { ...sorted } });
      return { value: { topic: cloneTopic(entry.record) }, placementsChanged: false };
    }
    case "applyAssignment":
      return applyAssignment(s, op.partitions, op.at, events);
    case "updateLeader": {
      const p = partition(s, op.topic, op.partitionId);
      if (op.leaderEpoch <= p.leaderEpoch) {
        reject("Conflict", `stale leader epoch ${op.leaderEpoch} for ${op.topic}/${op.partitionId}: current is ${p.leaderEpoch}`, {
          leaderEpoch: p.leaderEpoch,
        });
      }
      if (!p.isr.includes(op.leader)) {
        reject("Invalid", `broker ${op.leader} cannot lead ${op.topic}/${op.partitionId}: not in its ISR [${p.isr.join(",")}]`);
      }
      const next = { ...clonePartition(p), leader: op.leader, leaderEpoch: op.leaderEpoch, partitionEpoch: p.partitionEpoch + 1 };
      topic(s, op.topic).partitions.set(op.partitionId, next);
      events.push({ type: "leaderChanged", topic: op.topic, partitionId: op.partitionId, leader: op.leader, leaderEpoch: op.leaderEpoch });
      return { value: { partition: clonePartition(next) }, placementsChanged: true };
    }
    case "updateIsr": {
      const p = partition(s, op.topic, op.partitionId);
      if (op.leaderEpoch !== undefined && op.leaderEpoch !== p.leaderEpoch) {
        reject("Conflict", `ISR change for ${op.topic}/${op.partitionId} carries leader epoch ${op.leaderEpoch}, current is ${p.leaderEpoch}`, {
          leaderEpoch: p.leaderEpoch,
        });
      }
      const outside = op.isr.filter((r) => !p.replicas.includes(r));
      if (outside.length > 0) {
        reject("Invalid", `ISR [${op.isr.join(",")}] of ${op.topic}/${op.partitionId} lists non-replica(s) ${outside.join(",")}; replicas are [${p.replicas.join(",")}]`);
      }
      const isr = p.replicas.filter((r) => op.isr.includes(r)); // canonical order: the replicas' order
      if (sameIds(isr, p.isr)) return { value: { partition: clonePartition(p) }, placementsChanged: false };
      const next = { ...clonePartition(p), isr, partitionEpoch: p.partitionEpoch + 1 };
      topic(s, op.topic).partitions.set(op.partitionId, next);
      events.push({ type: "isrChanged", topic: op.topic, partitionId: op.partitionId, isr: [...isr], partitionEpoch: next.partitionEpoch });
      return { value: { partition: clonePartition(next) }, placementsChanged: false };
    }
    case "beginReassignment":
      return beginReassignment(s, op.topic, op.partitionId, op.targetReplicas, events);
    case "completeReassignment":
      return completeReassignment(s, op.topic, op.partitionId, events);
  }
}

function newPartition(topicName: string, partitionId: number, replicas: number[], leader?: number): PartitionRecord {
  // The control plane has no data path to report catch-up, so an assignment declares its replicas in sync.
  return {
    topic: topicName,
    partitionId,
    replicas: [...replicas],
    leader: leader ?? replicas[0],
    isr: [...replicas],
    leaderEpoch: 0,
    partitionEpoch: 0,
  };
}

function applyAssignment(s: MetadataState, input: TopicPlacementInput[], at: number, events: MetadataEvent[]): Applied {
  requireKnownBrokers(s, [...new Set(input.flatMap((p) => p.replicas))].sort((a, b) => a - b), "assignment");
  const sorted = [...input].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partitionId - b.partitionId));
  const changed: PartitionRecord[] = [];
  const leaderMoves: PartitionRecord[] = [];
  const createdTopics: string[] = [];
  for (const p of sorted) {
    const leader = p.leader ?? p.replicas[0];
    let entry = s.topics.get(p.topic);
    if (!entry) {
      entry = { record: { name: p.topic, config: {}, createdAt: at, partitionCount: 0 }, partitions: new Map() };
      s.topics.set(p.topic, entry);
      createdTopics.push(p.topic);
    }
    const old = entry.partitions.get(p.partitionId);
    let next: PartitionRecord;
    if (!old) {
      next = newPartition(p.topic, p.partitionId, p.replicas, leader);
      entry.record = { ...entry.record, partitionCount: entry.record.partitionCount + 1 };
    } else {
      if (sameIds(old.replicas, p.replicas) && old.leader === leader && !old.addingReplicas) continue;
      const sameSet = old.replicas.length === p.replicas.length && p.replicas.every((r) => old.replicas.includes(r));
      // Reordering replicas (a leadership move) keeps the ISR; a new replica set is declared in sync.
      const isr = sameSet ? p.replicas.filter((r) => old.isr.includes(r) || r === leader) : [...p.replicas];
      next = {
        topic: p.topic,
        partitionId: p.partitionId,
        replicas: [...p.replicas],
        leader,
        isr,
        leaderEpoch: old.leaderEpoch + (old.leader === leader ? 0 : 1),
        partitionEpoch: old.partitionEpoch + 1,
      };
      if (old.leader !== leader) leaderMoves.push(next);
    }
    entry.partitions.set(p.partitionId, next);
    changed.push(next);
  }
  for (const t of createdTopics) events.push({ type: "topicCreated", topic: t, config: {} });
  if (changed.length > 0) events.push({ type: "partitionsChanged", partitions: changed.map(clonePartition) });
  for (const p of leaderMoves) {
    events.push({ type: "leaderChanged", topic: p.topic, partitionId: p.partitionId, leader: p.leader, leaderEpoch: p.leaderEpoch });
  }
  return { value: { changed: changed.length, createdTopics }, placementsChanged: changed.length > 0 };
}

function beginReassignment(s: MetadataState, name: string, id: number, target: number[], events: MetadataEvent[]): Applied {
  const p = partition(s, name, id);
  if (p.addingReplicas) reject("Conflict", `partition ${name}/${id} is already being reassigned`, { topic: name, partitionId: id });
  requireKnownBrokers(s, target, `reassignment of ${name}/${id}`);
  if (sameIds(p.replicas, target)) return { value: { partition: clonePartition(p) }, placementsChanged: false };
  const adding = target.filter((r) => !p.replicas.includes(r));
  const removing = p.replicas.filter((r) => !target.includes(r));
  const next: PartitionRecord = { ...clonePartition(p), partitionEpoch: p.partitionEpoch + 1 };
  if (adding.length === 0 && removing.length === 0) {
    next.replicas = [...target]; // a pure reorder moves no data: done at once
    next.isr = target.filter((r) => p.isr.includes(r));
  } else {
    next.replicas = [...target, ...removing];
    next.addingReplicas = adding;
    next.removingReplicas = removing;
  }
  topic(s, name).partitions.set(id, next);
  events.push({ type: "partitionsChanged", partitions: [clonePartition(next)] });
  return { value: { partition: clonePartition(next) }, placementsChanged: true };
}

function completeReassignment(s: MetadataState, name: string, id: number, events: MetadataEvent[]): Applied {
  const p = partition(s, name, id);
  const adding = p.addingReplicas, removing = p.removingReplicas;
  if (!adding || !removing) {
    return reject("Invalid", `partition ${name}/${id} has no reassignment in progress`, { topic: name, partitionId: id });
  }
  const lagging = adding.filter((r) => !p.isr.includes(r));
  if (lagging.length > 0) {
    reject("Conflict", `reassignment of ${name}/${id} cannot complete: replica(s) ${lagging.join(",")} not yet in the ISR`, {
      lagging,
    });
  }
  const target = p.replicas.filter((r) => !removing.includes(r));
  const isr = target.filter((r) => p.isr.includes(r));
  if (isr.length === 0) reject("Conflict", `reassignment of ${name}/${id} would leave no in-sync replica`);
  const leader = target.includes(p.leader) ? p.leader : isr[0];
  const next: PartitionRecord = {
    topic: name,
    partitionId: id,
    replicas: target,
    leader,
    isr,
    leaderEpoch: p.leaderEpoch + (leader === p.leader ? 0 : 1),
    partitionEpoch: p.partitionEpoch + 1,
  };
  topic(s, name).partitions.set(id, next);
  events.push({ type: "partitionsChanged", partitions: [clonePartition(next)] });
  if (leader !== p.leader) events.push({ type: "leaderChanged", topic: name, partitionId: id, leader, leaderEpoch: next.leaderEpoch });
  if (!sameIds(isr, p.isr)) events.push({ type: "isrChanged", topic: name, partitionId: id, isr: [...isr], partitionEpoch: next.partitionEpoch });
  return { value: { partition: clonePartition(next) }, placementsChanged: true };
}
