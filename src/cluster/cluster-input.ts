/** Input checks shared by the registry and the coordinator: bad input is Invalid, never a crash. */
import { StreamBusError } from "../errors.ts";
import type { AssignmentConstraints, BrokerMetadata, PartitionInfo } from "./types.ts";

/** Checks the caller's part of a broker registration. */
export function validateBroker(b: BrokerMetadata): void {
  const bad = (msg: string) => new StreamBusError("Invalid", `broker ${JSON.stringify(b?.id)}: ${msg}`);
  if (!b || typeof b !== "object") throw new StreamBusError("Invalid", "broker metadata must be an object");
  if (!Number.isInteger(b.id) || b.id <= 0) throw bad("id must be a positive integer");
  if (typeof b.host !== "string" || b.host.length === 0) throw bad("host must be a non-empty string");
  if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535) throw bad("port must be an integer in 1..65535");
  if (b.rack !== undefined && typeof b.rack !== "string") throw bad("rack must be a string");
  if (b.capacity !== undefined && !(typeof b.capacity === "number" && b.capacity > 0 && Number.isFinite(b.capacity))) {
    throw bad("capacity must be a positive number");
  }
}

/** A positive, finite number of milliseconds (or count). */
export function positive(ms: number, what: string): number {
  if (!(typeof ms === "number" && Number.isFinite(ms) && ms > 0)) {
    throw new StreamBusError("Invalid", `${what} must be a positive finite number, got ${ms}`);
  }
  return ms;
}

/** Zero or more, finite. */
export function nonNegative(ms: number, what: string): number {
  if (!(typeof ms === "number" && Number.isFinite(ms) && ms >= 0)) {
    throw new StreamBusError("Invalid", `${what} must be a finite number >= 0, got ${ms}`);
  }
  return ms;
}

/** Accepts `excludedBrokers` as a Set or, from JSON, an array; anything else is Invalid. */
export function normalizeConstraints(c: AssignmentConstraints): AssignmentConstraints {
  if (c === null || typeof c !== "object") throw new StreamBusError("Invalid", "constraints must be an object");
  const ex = c.excludedBrokers as unknown;
  if (ex === undefined || ex instanceof Set) return c;
  if (Array.isArray(ex) && ex.every((id) => Number.isInteger(id))) return { ...c, excludedBrokers: new Set(ex as number[]) };
  throw new StreamBusError("Invalid", "constraints.excludedBrokers must be a set or an array of broker ids");
}

/** Partitions to place: topic, partitionId >= 0, replicas >= 1, no duplicates. */
export function validatePartitions(partitions: PartitionInfo[]): void {
  if (!Array.isArray(partitions)) throw new StreamBusError("Invalid", "partitions must be an array");
  const seen = new Set<string>();
  partitions.forEach((p, i) => {
    const ok = p && typeof p.topic === "string" && p.topic.length > 0 && Number.isInteger(p.partitionId) &&
      p.partitionId >= 0 && Number.isInteger(p.replicas) && p.replicas >= 1;
    if (!ok) throw new StreamBusError("Invalid", `partition #${i} needs a topic, partitionId >= 0 and replicas >= 1`);
    const k = `${p.topic}\u0000${p.partitionId}`;
    if (seen.has(k)) throw new StreamBusError("Invalid", `partition ${p.topic}/${p.partitionId} is listed twice`);
    seen.add(k);
  });
}
