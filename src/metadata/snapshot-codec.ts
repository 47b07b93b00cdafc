/**
 * The FSM snapshot: the whole state plus the session table, as UTF-8 JSON (CBOR snapshots of earlier versions
 * still load). Partitions are stored as positional arrays (about half the bytes of keyed maps at 100,000
 * partitions). Decoding checks the shape and
 * builds a fresh state, so a bad snapshot throws "Corrupt" and leaves the running state untouched.
 */
import { StreamBusError } from "../errors.ts";
import { decodeJsonOrCbor, encodeJson, formatOf } from "./operation-codec.ts";
import { MetadataState, type TopicEntry } from "./metadata-state.ts";
import type { SessionSnapshot } from "./session-table.ts";
import type { TopicConfig } from "../cluster/types.ts";
import type { BrokerRecord, PartitionRecord } from "./types.ts";

const FORMAT = 1;

/** [partitionId, replicas, leader, isr, leaderEpoch, partitionEpoch, adding?, removing?] */
type PartitionTuple = [number, number[], number, number[], number, number, number[]?, number[]?];
/** [name, config, createdAt, partitions] */
type TopicTuple = [string, TopicConfig, number, PartitionTuple[]];

interface SnapshotBody {
  format: number;
  index: number;
  version: number;
  assignmentVersion: number;
  brokers: BrokerRecord[];
  topics: TopicTuple[];
  sessions: SessionSnapshot;
}

export function encodeSnapshot(state: MetadataState, sessions: SessionSnapshot): Uint8Array {
  const body: SnapshotBody = {
    format: FORMAT,
    index: state.index,
    version: state.version,
    assignmentVersion: state.assignmentVersion,
    brokers: state.sortedBrokers(),
    topics: state.sortedTopics().map((e) => [
      e.record.name,
      e.record.config,
      e.record.createdAt,
      state.sortedPartitions(e).map((p) => {
        const t: PartitionTuple = [p.partitionId, p.replicas, p.leader, p.isr, p.leaderEpoch, p.partitionEpoch];
        if (p.addingReplicas) t.push(p.addingReplicas, p.removingReplicas ?? []);
        return t;
      }),
    ]),
    sessions,
  };
  return encodeJson(body);
}

const corrupt = (why: string): never => {
  throw new StreamBusError("Corrupt", `metadata snapshot: ${why}`);
};
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);

export function decodeSnapshot(data: Uint8Array): { state: MetadataState; sessions: SessionSnapshot } {
  let body: SnapshotBody;
  try {
    body = decodeJsonOrCbor(data) as SnapshotBody;
  } catch (e) {
    return corrupt(`not valid ${formatOf(data)} (${(e as Error).message})`);
  }
  if (!body || typeof body !== "object") corrupt("not a map");
  if (body.format !== FORMAT) corrupt(`unknown format ${String(body.format)}`);
  if (!isInt(body.index) || !isInt(body.version) || !isInt(body.assignmentVersion)) corrupt("bad versions");
  if (!Array.isArray(body.brokers) || !Array.isArray(body.topics) || !Array.isArray(body.sessions)) corrupt("missing sections");
  const state = new MetadataState();
  state.index = body.index;
  state.version = body.version;
  state.assignmentVersion = body.assignmentVersion;
  for (const b of body.brokers) {
    if (!b || !isInt(b.id) || typeof b.host !== "string" || !isInt(b.port) || typeof b.status !== "string") corrupt("bad broker");
    state.brokers.set(b.id, b);
  }
  for (const t of body.topics) {
    if (!Array.isArray(t) || typeof t[0] !== "string" || !Array.isArray(t[3])) corrupt("bad topic");
    const [name, config, createdAt, tuples] = t;
    const partitions = new Map<number, PartitionRecord>();
    for (const x of tuples) {
      if (!Array.isArray(x) || !isInt(x[0]) || !isIds(x[1]) || !isInt(x[2]) || !isIds(x[3])) corrupt(`bad partition in ${name}`);
      const p: PartitionRecord = {
        topic: name,
        partitionId: x[0],
        replicas: x[1],
        leader: x[2],
        isr: x[3],
        leaderEpoch: x[4],
        partitionEpoch: x[5],
      };
      if (x.length > 6) {
        p.addingReplicas = x[6];
        p.removingReplicas = x[7];
      }
      partitions.set(p.partitionId, p);
    }
    const entry: TopicEntry = { record: { name, config: config ?? {}, createdAt, partitionCount: partitions.size }, partitions };
    state.topics.set(name, entry);
  }
  return { state, sessions: body.sessions };
}
