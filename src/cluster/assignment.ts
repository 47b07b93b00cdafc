import { StreamBusError } from "../errors.ts";
import type { AssignmentJSON, PartitionPlacement } from "./types.ts";

const key = (topic: string, partitionId: number) => `${topic}\u0000${partitionId}`;

/**
 * An immutable-by-convention placement of partitions on brokers. Iteration order is (topic, partitionId),
 * so every output that lists partitions is deterministic.
 *
 * @example
 * const a = new Assignment([{ topic: "events", partitionId: 0, replicas: [1, 2], leader: 1 }]);
 * a.getReplicas("events", 0); // [1, 2]
 */
export class Assignment {
  readonly version: number;
  readonly #byKey = new Map<string, PartitionPlacement>();

  constructor(partitions: Iterable<PartitionPlacement> = [], version = 0) {
    this.version = version;
    const sorted = [...partitions].sort(comparePlacement);
    for (const p of sorted) {
      this.#byKey.set(key(p.topic, p.partitionId), {
        topic: p.topic,
        partitionId: p.partitionId,
        replicas: [...p.replicas],
        leader: p.leader,
      });
    }
  }

  /** Replica broker ids; index 0 is the preferred leader. Empty for an unknown partition. */
  getReplicas(topic: string, partitionId: number): number[] {
    return [...(this.#byKey.get(key(topic, partitionId))?.replicas ?? [])];
  }

  /** The partition's leader, or undefined for an unknown partition. */
  getLeader(topic: string, partitionId: number): number | undefined {
    return this.#byKey.get(key(topic, partitionId))?.leader;
  }

  has(topic: string, partitionId: number): boolean {
    return this.#byKey.has(key(topic, partitionId));
  }

  totalPartitions(): number {
    return this.#byKey.size;
  }

  /** Partitions in (topic, partitionId) order. */
  partitions(): PartitionPlacement[] {
    return [...this.#byKey.values()].map((p) => ({ ...p, replicas: [...p.replicas] }));
  }

  topics(): string[] {
    return [...new Set([...this.#byKey.values()].map((p) => p.topic))];
  }

  /** Replicas hosted per broker, in ascending broker id order. */
  brokerLoad(): Map<number, number> {
    return countBy([...this.#byKey.values()].flatMap((p) => p.replicas));
  }

  /** Leaderships per broker, in ascending broker id order. */
  leaderLoad(): Map<number, number> {
    return countBy([...this.#byKey.values()].map((p) => p.leader));
  }

  /** A new assignment with only the given topic's partitions. */
  forTopic(topic: string): Assignment {
    return new Assignment([...this.#byKey.values()].filter((p) => p.topic === topic), this.version);
  }

  /** A new assignment with `other`'s partitions added or replacing these. */
  merge(other: Assignment, version = this.version): Assignment {
    const all = new Map(this.#byKey);
    for (const p of other.partitions()) all.set(key(p.topic, p.partitionId), p);
    return new Assignment(all.values(), version);
  }

  withVersion(version: number): Assignment {
    return new Assignment(this.#byKey.values(), version);
  }

  toJSON(): AssignmentJSON {
    return { version: this.version, partitions: this.partitions() };
  }

  static fromJSON(json: unknown): Assignment {
    const j = json as Partial<AssignmentJSON> | null;
    if (!j || typeof j !== "object" || !Array.isArray(j.partitions)) {
      throw new StreamBusError("Invalid", "assignment JSON needs { version, partitions: [...] }");
    }
    const version = typeof j.version === "number" && Number.isInteger(j.version) ? j.version : 0;
    const seen = new Set<string>();
    const parts = j.partitions.map((p, i) => {
      const q = p as Partial<PartitionPlacement> | null;
      const ok = q && typeof q.topic === "string" && q.topic.length > 0 &&
        Number.isInteger(q.partitionId) && (q.partitionId as number) >= 0 &&
        Array.isArray(q.replicas) && q.replicas.length > 0 &&
        q.replicas.every((r) => Number.isInteger(r) && r > 0) &&
        new Set(q.replicas).size === q.replicas.length &&
        Number.isInteger(q.leader) && q.replicas.includes(q.leader as number);
      if (!ok) {
        throw new StreamBusError(
          "Invalid",
          `assignment partition #${i} needs topic, partitionId >= 0, distinct positive replicas and a leader among them`,
        );
      }
      const k = key(q.topic as string, q.partitionId as number);
      if (seen.has(k)) throw new StreamBusError("Invalid", `assignment lists ${q.topic}/${q.partitionId} twice`);
      seen.add(k);
      return q as PartitionPlacement;
    });
    return new Assignment(parts, version);
  }
}

export function comparePlacement(a: { topic: string; partitionId: number }, b: { topic: string; partitionId: number }) {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partitionId - b.partitionId;
}

function countBy(ids: number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return new Map([...counts].sort((a, b) => a[0] - b[0]));
}
