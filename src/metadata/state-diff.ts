/**
 * The events that turn one state into another. Used when a snapshot replaces a node's state, so listeners
 * (a follower's registry, say) see the brokers, topics and partitions that changed meanwhile. Sorted output.
 */
import { canonicalJSON, cloneBroker, clonePartition, type MetadataState, sameIds } from "./metadata-state.ts";
import type { MetadataEvent, PartitionRecord } from "./types.ts";

export function diffStates(before: MetadataState, after: MetadataState): MetadataEvent[] {
  const events: MetadataEvent[] = [];
  for (const b of before.sortedBrokers()) {
    if (!after.brokers.has(b.id)) events.push({ type: "brokerRemoved", brokerId: b.id });
  }
  for (const b of after.sortedBrokers()) {
    const old = before.brokers.get(b.id);
    if (!old) events.push({ type: "brokerAdded", broker: cloneBroker(b) });
    else if (old.status !== b.status) events.push({ type: "brokerStatusChanged", broker: cloneBroker(b), previous: old.status });
    else if (canonicalJSON(old) !== canonicalJSON(b)) events.push({ type: "brokerUpdated", broker: cloneBroker(b) });
  }
  for (const t of before.sortedTopics()) {
    if (!after.topics.has(t.record.name)) events.push({ type: "topicDeleted", topic: t.record.name });
  }
  const changed: PartitionRecord[] = [];
  const followUps: MetadataEvent[] = [];
  for (const t of after.sortedTopics()) {
    const old = before.topics.get(t.record.name);
    if (!old) events.push({ type: "topicCreated", topic: t.record.name, config: { ...t.record.config } });
    else if (canonicalJSON(old.record.config) !== canonicalJSON(t.record.config)) {
      events.push({ type: "topicConfigChanged", topic: t.record.name, config: { ...t.record.config } });
    }
    for (const p of after.sortedPartitions(t)) {
      const q = old?.partitions.get(p.partitionId);
      if (q && samePartition(q, p)) continue;
      changed.push(clonePartition(p));
      if (q && (q.leader !== p.leader || q.leaderEpoch !== p.leaderEpoch)) {
        followUps.push({ type: "leaderChanged", topic: p.topic, partitionId: p.partitionId, leader: p.leader, leaderEpoch: p.leaderEpoch });
      }
      if (q && !sameIds(q.isr, p.isr)) {
        followUps.push({ type: "isrChanged", topic: p.topic, partitionId: p.partitionId, isr: [...p.isr], partitionEpoch: p.partitionEpoch });
      }
    }
  }
  if (changed.length > 0) events.push({ type: "partitionsChanged", partitions: changed });
  events.push(...followUps);
  return events;
}

/** Field by field: a lagging follower may diff 100,000 partitions, so no serializing here. */
function samePartition(a: PartitionRecord, b: PartitionRecord): boolean {
  const sameOptional = (x?: number[], y?: number[]) => (x === undefined ? y === undefined : y !== undefined && sameIds(x, y));
  return a.leader === b.leader && a.leaderEpoch === b.leaderEpoch && a.partitionEpoch === b.partitionEpoch &&
    sameIds(a.replicas, b.replicas) && sameIds(a.isr, b.isr) &&
    sameOptional(a.addingReplicas, b.addingReplicas) && sameOptional(a.removingReplicas, b.removingReplicas);
}
