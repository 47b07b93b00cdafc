import { StreamBusError } from "../../errors.ts";
import { Assignment } from "../assignment.ts";
import type { PartitionInfo } from "../types.ts";

/** The partitions of an assignment as placement requests, keeping each one's replication factor. */
export function infosOf(current: Assignment): PartitionInfo[] {
  if (!(current instanceof Assignment)) throw new StreamBusError("Invalid", "current must be an Assignment");
  return current.partitions().map((p) => ({ topic: p.topic, partitionId: p.partitionId, replicas: p.replicas.length }));
}
