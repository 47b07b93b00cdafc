/**
 * Commands (operation + session fields) on the Raft log, as UTF-8 JSON, with a shape check on decode:
 * anything that is not exactly a well-typed operation is rejected as Invalid before the FSM looks at it.
 * The FSM then checks meaning (unknown broker, stale epoch, ...) against its state.
 *
 * JSON, not CBOR, because every node decodes every command and the runtimes' native JSON.parse is about
 * nine times faster than a JavaScript CBOR decoder on these small string-heavy objects (commands hold no
 * bytes). Entries written as CBOR by earlier versions still decode: a JSON command starts with "{", a CBOR
 * map never does. Snapshots are JSON too, for the same reason (about twice as fast to take and to load).
 */
import { Encoder } from "cbor-x";
import { StreamBusError } from "../errors.ts";
import {
  BROKER_STATUSES,
  type BrokerInput,
  type BrokerPatch,
  type Command,
  type Operation,
  type PlacementInput,
  type TopicPlacementInput,
} from "./types.ts";

const cbor = new Encoder({ useRecords: false });

/** Longest topic name, as in Kafka. */
export const MAX_TOPIC_NAME = 249;
const MAX_BROKER_ID = 2 ** 31 - 1;
const MAX_STRING = 1024;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const OPEN_BRACE = 0x7b;

/** Encodes a command for `propose`. Validates it first, so a bad command never reaches the log. */
export function encodeCommand(cmd: Command): Uint8Array {
  return encodeJson(validateCommand(cmd));
}

/**
 * Decodes and shape-checks one log entry (JSON, or CBOR from earlier versions).
 * @throws StreamBusError "Invalid" naming the first bad field.
 */
export function decodeCommand(data: Uint8Array): Command {
  let raw: unknown;
  try {
    raw = decodeJsonOrCbor(data);
  } catch (e) {
    throw new StreamBusError("Invalid", `metadata command is not valid ${formatOf(data)}: ${(e as Error).message}`);
  }
  return validateCommand(raw);
}

/** UTF-8 JSON: the format of commands and snapshots. */
export function encodeJson(value: unknown): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(value));
}

/** The format `data` is in: JSON (an object starts with "{"), else the CBOR of earlier versions (a map never does). */
export function formatOf(data: Uint8Array): "JSON" | "CBOR" {
  return data[0] === OPEN_BRACE ? "JSON" : "CBOR";
}

/** Decodes JSON, or CBOR written by earlier versions; throws the parser's error on malformed bytes. */
export function decodeJsonOrCbor(data: Uint8Array): unknown {
  return formatOf(data) === "JSON" ? JSON.parse(utf8Decoder.decode(data)) : cbor.decode(data);
}

function fail(path: string, why: string): never {
  throw new StreamBusError("Invalid", `metadata command: ${path} ${why}`, { field: path });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Map);

function obj(v: unknown, path: string): Record<string, unknown> {
  if (!isObject(v)) fail(path, "must be an object");
  return v;
}
function str(v: unknown, path: string, min = 1, max = MAX_STRING): string {
  if (typeof v !== "string") fail(path, "must be a string");
  if (v.length < min || v.length > max) fail(path, `must have ${min}..${max} characters`);
  return v;
}
function int(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isInteger(v)) fail(path, "must be an integer");
  if (v < min || v > max) fail(path, `must be in ${min}..${max}`);
  return v === 0 ? 0 : v; // -0 becomes 0, as in JSON: a checked command is what its bytes decode to
}
function num(v: unknown, path: string, min: number): number {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(path, "must be a finite number");
  if (v < min) fail(path, `must be >= ${min}`);
  return v === 0 ? 0 : v;
}
const brokerId = (v: unknown, path: string) => int(v, path, 1, MAX_BROKER_ID);
const optional = <T>(v: unknown, f: (v: unknown) => T): T | undefined => (v === undefined ? undefined : f(v));

function brokerIds(v: unknown, path: string): number[] {
  if (!Array.isArray(v) || v.length === 0) fail(path, "must be a non-empty array of broker ids");
  const ids = v.map((x, i) => brokerId(x, `${path}[${i}]`));
  if (new Set(ids).size !== ids.length) fail(path, `lists a broker twice (${ids.join(",")})`);
  return ids;
}

export function validateTopicName(v: unknown, path = "topic"): string {
  const name = str(v, path, 1, MAX_TOPIC_NAME);
  // Control characters would make logs, keys and paths ambiguous.
  if (/[\u0000-\u001f\u007f]/.test(name)) fail(path, "must not contain control characters");
  return name;
}

function tags(v: unknown, path: string): Record<string, string> {
  const o = obj(v, path);
  const out: Record<string, string> = {};
  for (const k of Object.keys(o).sort()) {
    if (k === "__proto__") fail(path, "must not use the key __proto__");
    out[k] = str(o[k], `${path}.${k}`, 0);
  }
  return out;
}

function config(v: unknown, path: string, allowNull: boolean): Record<string, unknown> {
  const o = obj(v, path);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) {
    if (k === "__proto__") fail(path, "must not use the key __proto__");
    const x = o[k];
    const p = `${path}.${k}`;
    if (x === null && allowNull) out[k] = null;
    else if (k === "retentionMs") out[k] = int(x, p, -1);
    else if (k === "segmentBytes") out[k] = int(x, p, 1);
    else if (k === "minInSyncReplicas") out[k] = int(x, p, 1);
    else if (k === "cleanupPolicy") {
      if (x !== "delete" && x !== "compact") fail(p, 'must be "delete" or "compact"');
      out[k] = x;
    } else if (typeof x === "string" || typeof x === "boolean" || (typeof x === "number" && Number.isFinite(x))) {
      out[k] = x;
    } else fail(p, "must be a string, boolean or finite number");
  }
  return out;
}

function brokerFields(o: Record<string, unknown>, path: string, target: Record<string, unknown>, patch: boolean) {
  const take = (k: string, f: (v: unknown, p: string) => unknown) => {
    const v = o[k];
    if (v === undefined) return;
    target[k] = v === null && patch ? null : f(v, `${path}.${k}`);
  };
  take("rack", (v, p) => str(v, p, 0, 255));
  take("capacity", (v, p) => {
    if (num(v, p, 0) === 0) fail(p, "must be > 0");
    return v;
  });
  take("diskCapacityGB", (v, p) => num(v, p, 0));
  take("diskUsedGB", (v, p) => num(v, p, 0));
  take("networkBandwidth", (v, p) => num(v, p, 0));
  take("version", (v, p) => str(v, p, 0, 255));
  take("tags", tags);
}

function brokerInput(v: unknown, path: string): BrokerInput {
  const o = obj(v, path);
  const b: Record<string, unknown> = {
    id: brokerId(o.id, `${path}.id`),
    host: str(o.host, `${path}.host`, 1, 255),
    port: int(o.port, `${path}.port`, 1, 65535),
  };
  brokerFields(o, path, b, false);
  if (o.status !== undefined) b.status = status(o.status, `${path}.status`);
  if (o.lastHeartbeat !== undefined) b.lastHeartbeat = num(o.lastHeartbeat, `${path}.lastHeartbeat`, 0);
  return b as unknown as BrokerInput;
}

function brokerPatch(v: unknown, path: string): BrokerPatch {
  const o = obj(v, path);
  const p: Record<string, unknown> = {};
  if (o.host !== undefined) p.host = str(o.host, `${path}.host`, 1, 255);
  if (o.port !== undefined) p.port = int(o.port, `${path}.port`, 1, 65535);
  brokerFields(o, path, p, true);
  if (o.lastHeartbeat !== undefined) p.lastHeartbeat = num(o.lastHeartbeat, `${path}.lastHeartbeat`, 0);
  return p as BrokerPatch;
}

function status(v: unknown, path: string) {
  if (!BROKER_STATUSES.includes(v as never)) fail(path, `must be one of ${BROKER_STATUSES.join(", ")}`);
  return v as (typeof BROKER_STATUSES)[number];
}

function placement(v: unknown, path: string): PlacementInput {
  const o = obj(v, path);
  const replicas = brokerIds(o.replicas, `${path}.replicas`);
  const p: PlacementInput = { partitionId: int(o.partitionId, `${path}.partitionId`, 0, MAX_BROKER_ID), replicas };
  if (o.leader !== undefined) {
    p.leader = brokerId(o.leader, `${path}.leader`);
    if (!replicas.includes(p.leader)) fail(`${path}.leader`, `(${p.leader}) must be one of the replicas`);
  }
  return p;
}

function placements(v: unknown, path: string, withTopic: boolean): PlacementInput[] | TopicPlacementInput[] {
  if (!Array.isArray(v)) fail(path, "must be an array");
  const seen = new Set<string>();
  return v.map((x, i) => {
    const p = placement(x, `${path}[${i}]`);
    const topic = withTopic ? validateTopicName(obj(x, `${path}[${i}]`).topic, `${path}[${i}].topic`) : "";
    const key = `${topic}\u0000${p.partitionId}`;
    if (seen.has(key)) fail(path, `lists partition ${withTopic ? topic + "/" : ""}${p.partitionId} twice`);
    seen.add(key);
    return withTopic ? { topic, ...p } : p;
  });
}

/** Checks every field of an operation and returns a clean copy (no extra fields survive). */
export function validateOperation(v: unknown, path = "op"): Operation {
  const o = obj(v, path);
  const at = () => num(o.at, `${path}.at`, 0);
  const topicAndPartition = () => ({
    topic: validateTopicName(o.topic, `${path}.topic`),
    partitionId: int(o.partitionId, `${path}.partitionId`, 0, MAX_BROKER_ID),
  });
  switch (o.type) {
    case "registerBroker":
      return { type: o.type, broker: brokerInput(o.broker, `${path}.broker`), at: at() };
    case "unregisterBroker":
      return { type: o.type, brokerId: brokerId(o.brokerId, `${path}.brokerId`) };
    case "updateBroker":
      return { type: o.type, brokerId: brokerId(o.brokerId, `${path}.brokerId`), patch: brokerPatch(o.patch, `${path}.patch`) };
    case "updateBrokerStatus":
      return {
        type: o.type,
        brokerId: brokerId(o.brokerId, `${path}.brokerId`),
        status: status(o.status, `${path}.status`),
        at: at(),
      };
    case "createTopic": {
      const parts = placements(o.partitions, `${path}.partitions`, false);
      if (parts.length === 0) fail(`${path}.partitions`, "must list at least one partition");
      return {
        type: o.type,
        name: validateTopicName(o.name, `${path}.name`),
        config: config(o.config ?? {}, `${path}.config`, false),
        partitions: parts,
        at: at(),
      };
    }
    case "deleteTopic":
      return { type: o.type, name: validateTopicName(o.name, `${path}.name`) };
    case "updateTopicConfig":
      return {
        type: o.type,
        name: validateTopicName(o.name, `${path}.name`),
        config: config(o.config, `${path}.config`, true),
      };
    case "applyAssignment":
      return { type: o.type, partitions: placements(o.partitions, `${path}.partitions`, true) as TopicPlacementInput[], at: at() };
    case "updateLeader":
      return {
        type: o.type,
        ...topicAndPartition(),
        leader: brokerId(o.leader, `${path}.leader`),
        leaderEpoch: int(o.leaderEpoch, `${path}.leaderEpoch`, 0),
      };
    case "updateIsr":
      return {
        type: o.type,
        ...topicAndPartition(),
        isr: brokerIds(o.isr, `${path}.isr`),
        ...(o.leaderEpoch === undefined ? {} : { leaderEpoch: int(o.leaderEpoch, `${path}.leaderEpoch`, 0) }),
      };
    case "beginReassignment":
      return { type: o.type, ...topicAndPartition(), targetReplicas: brokerIds(o.targetReplicas, `${path}.targetReplicas`) };
    case "completeReassignment":
      return { type: o.type, ...topicAndPartition() };
    default:
      return fail(`${path}.type`, `is not a known operation (${JSON.stringify(o.type)?.slice(0, 40)})`);
  }
}

/** Checks a whole command (session fields and operation). */
export function validateCommand(v: unknown): Command {
  const o = obj(v, "command");
  const cmd: Command = {
    clientId: str(o.clientId, "clientId", 1, 128),
    seq: int(o.seq, "seq", 1),
    op: validateOperation(o.op),
  };
  const ackBelow = optional(o.ackBelow, (x) => int(x, "ackBelow", 1));
  if (ackBelow !== undefined) {
    if (ackBelow > cmd.seq) fail("ackBelow", `(${ackBelow}) must not exceed seq (${cmd.seq})`);
    cmd.ackBelow = ackBelow;
  }
  const ev = optional(o.expectedVersion, (x) => int(x, "expectedVersion", 0));
  if (ev !== undefined) cmd.expectedVersion = ev;
  const eav = optional(o.expectedAssignmentVersion, (x) => int(x, "expectedAssignmentVersion", 0));
  if (eav !== undefined) cmd.expectedAssignmentVersion = eav;
  return cmd;
}
