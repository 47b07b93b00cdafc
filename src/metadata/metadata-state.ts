/**
 * The metadata held by the FSM: brokers, topics and their partitions, plus the state and assignment versions.
 * Records are replaced, never mutated in place, so a record handed out (in a result or an event) never
 * changes under its reader. Every listing is sorted (broker id; topic name, then partition id).
 */
import type { BrokerRecord, PartitionRecord, TopicRecord } from "./types.ts";

export interface TopicEntry {
  record: TopicRecord;
  partitions: Map<number, PartitionRecord>;
}

export class MetadataState {
  brokers = new Map<number, BrokerRecord>();
  topics = new Map<string, TopicEntry>();
  /** Successful operations applied so far. */
  version = 0;
  /** Bumped by each operation that changes placements (replicas or leaders). */
  assignmentVersion = 0;
  /** Log index of the last entry applied. */
  index = 0;

  partition(topic: string, partitionId: number): PartitionRecord | undefined {
    return this.topics.get(topic)?.partitions.get(partitionId);
  }

  sortedBrokers(): BrokerRecord[] {
    return [...this.brokers.values()].sort((a, b) => a.id - b.id);
  }

  sortedTopics(): TopicEntry[] {
    return [...this.topics.values()].sort((a, b) => (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0));
  }

  sortedPartitions(entry: TopicEntry): PartitionRecord[] {
    return [...entry.partitions.values()].sort((a, b) => a.partitionId - b.partitionId);
  }

  /** All partitions (or one topic's) in (topic, partitionId) order. */
  allPartitions(topic?: string): PartitionRecord[] {
    if (topic !== undefined) {
      const e = this.topics.get(topic);
      return e ? this.sortedPartitions(e) : [];
    }
    return this.sortedTopics().flatMap((e) => this.sortedPartitions(e));
  }
}

/** A deep copy, so callers can never reach into FSM state. */
export function cloneBroker(b: BrokerRecord): BrokerRecord {
  return b.tags ? { ...b, tags: { ...b.tags } } : { ...b };
}

export function clonePartition(p: PartitionRecord): PartitionRecord {
  const c: PartitionRecord = { ...p, replicas: [...p.replicas], isr: [...p.isr] };
  if (p.addingReplicas) c.addingReplicas = [...p.addingReplicas];
  if (p.removingReplicas) c.removingReplicas = [...p.removingReplicas];
  return c;
}

export function cloneTopic(t: TopicRecord): TopicRecord {
  return { ...t, config: { ...t.config } };
}

export const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Object keys sorted recursively, so two equal records give the same string. */
export function canonicalJSON(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, (x as Record<string, unknown>)[k]]))
      : x);
}
