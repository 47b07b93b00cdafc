/**
 * Wire encoding of Raft messages and of the data of confChange entries: standard CBOR (cbor-x without
 * records). Decoding checks the whole shape, so a malformed or hostile frame is rejected with
 * StreamBusError "Invalid" and never reaches the state machine.
 */
import { Encoder } from "cbor-x";
import { encodeTuple, withArrayField } from "../codec/cbor-tuple.ts";
import { StreamBusError } from "../errors.ts";
import type {
  ConfChange,
  ConfChangeSingle,
  ConfState,
  Entry,
  Message,
  MessageType,
  SnapshotChunk,
  SnapshotMeta,
} from "./types.ts";

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  "hup", "beat", "prop", "app", "appResp", "vote", "voteResp", "preVote", "preVoteResp", "snap", "snapResp",
  "heartbeat", "heartbeatResp", "transferLeader", "timeoutNow", "readIndex", "readIndexResp",
]);

const INT_FIELDS = ["logTerm", "index", "commit", "rejectHint", "conflictTerm", "offset", "commitTerm"] as const;

function bad(what: string): never {
  throw new StreamBusError("Invalid", `raft message: ${what}`);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function uint(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) bad(`${what} must be a non-negative integer`);
  return v;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) bad(`${what} must be a byte string`);
  return v;
}

function idList(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) bad(`${what} must be an array of node ids`);
  return v.map((x, i) => uint(x, `${what}[${i}]`));
}

function confState(v: unknown): ConfState {
  if (!isObj(v)) bad("snapshot conf must be a map");
  if (typeof v.autoLeave !== "boolean") bad("conf.autoLeave must be a boolean");
  return {
    voters: idList(v.voters, "conf.voters"),
    learners: idList(v.learners, "conf.learners"),
    votersOutgoing: idList(v.votersOutgoing, "conf.votersOutgoing"),
    learnersNext: idList(v.learnersNext, "conf.learnersNext"),
    autoLeave: v.autoLeave,
  };
}

function snapshotMeta(v: unknown): SnapshotMeta {
  if (!isObj(v)) bad("snapshot meta must be a map");
  const meta: SnapshotMeta = { index: uint(v.index, "meta.index"), term: uint(v.term, "meta.term"), conf: confState(v.conf) };
  if (v.addrs !== undefined) {
    if (!isObj(v.addrs)) bad("meta.addrs must be a map");
    const addrs: Record<string, string> = {};
    for (const [k, a] of Object.entries(v.addrs)) {
      if (typeof a !== "string") bad("meta.addrs values must be strings");
      addrs[k] = a;
    }
    meta.addrs = addrs;
  }
  return meta;
}

function snapshotChunk(v: unknown): SnapshotChunk {
  if (!isObj(v)) bad("snapshot must be a map");
  const chunk: SnapshotChunk = {
    meta: snapshotMeta(v.meta),
    offset: uint(v.offset, "snapshot.offset"),
    data: bytes(v.data, "snapshot.data"),
    total: uint(v.total, "snapshot.total"),
  };
  if (chunk.offset + chunk.data.length > chunk.total) bad("snapshot chunk extends past its total length");
  return chunk;
}

/**
 * Entries travel as [term, index, type number, data] tuples, not maps: a map repeats its four key strings
 * in every entry, and decoding them made a follower's message decode about six times slower.
 */
function entry(v: unknown, i: number): Entry {
  if (!Array.isArray(v) || v.length !== 4) bad(`entries[${i}] must be a [term, index, type, data] array`);
  const type = v[2] === 0 ? "normal" : v[2] === 1 ? "confChange" : bad(`entries[${i}] type must be 0 (normal) or 1 (confChange)`);
  return {
    term: uint(v[0], `entries[${i}].term`),
    index: uint(v[1], `entries[${i}].index`),
    type,
    data: bytes(v[3], `entries[${i}].data`), // a view into the frame until entries() copies it
  };
}

/**
 * A message's entries, their bytes copied out of the frame (which must not stay alive, or be reused, under
 * entries kept in the log) into one ArrayBuffer of their own, each entry's data a view of it. On
 * JavaScriptCore (Bun) a small fresh Uint8Array has no ArrayBuffer until one is asked for, and the first
 * subarray of it (as when apply unwraps a proposal's envelope) allocates one; views of one buffer do not.
 */
function entries(list: unknown[]): Entry[] {
  const out = list.map(entry);
  let total = 0;
  for (const e of out) total += e.data.length;
  const buf = new Uint8Array(new ArrayBuffer(total));
  let at = 0;
  for (const e of out) {
    buf.set(e.data, at);
    e.data = buf.subarray(at, (at += e.data.length));
  }
  return out;
}

/**
 * Checks that `v` has the shape of a Message and returns a clean copy (unknown fields dropped). Throws
 * StreamBusError "Invalid" otherwise.
 */
export function validateMessage(v: unknown): Message {
  if (!isObj(v)) bad("not a map");
  if (typeof v.type !== "string" || !MESSAGE_TYPES.has(v.type)) bad(`unknown type ${String(v.type)}`);
  const m: Message = {
    type: v.type as MessageType,
    from: uint(v.from, "from"),
    to: uint(v.to, "to"),
    term: uint(v.term, "term"),
  };
  for (const f of INT_FIELDS) if (v[f] !== undefined && v[f] !== null) m[f] = uint(v[f], f);
  if (v.reject !== undefined && v.reject !== null) {
    if (typeof v.reject !== "boolean") bad("reject must be a boolean");
    m.reject = v.reject;
  }
  if (v.transfer !== undefined && v.transfer !== null) {
    if (typeof v.transfer !== "boolean") bad("transfer must be a boolean");
    m.transfer = v.transfer;
  }
  if (v.entries !== undefined && v.entries !== null) {
    if (!Array.isArray(v.entries)) bad("entries must be an array");
    m.entries = entries(v.entries);
  }
  if (v.snapshot !== undefined && v.snapshot !== null) m.snapshot = snapshotChunk(v.snapshot);
  if (v.context !== undefined && v.context !== null) m.context = bytes(v.context, "context");
  return m;
}

/**
 * Encodes a message for the wire. Entries go as `[term, index, type, data]` tuples; with `encoded`, an
 * entry already encoded for another message (the same append to each follower) is reused from it.
 *
 * @example
 * const bytes = encodeMessage({ type: "heartbeat", from: 1, to: 2, term: 3, commit: 10 });
 * decodeMessage(bytes).commit; // 10
 */
export function encodeMessage(m: Message, encoded?: Map<Entry, Uint8Array>): Uint8Array {
  if (!m.entries) return cbor.encode(m);
  const { entries, ...rest } = m;
  const items: Uint8Array[] = [];
  for (const e of entries) {
    let b = encoded?.get(e);
    if (!b) {
      const type = e.type === "normal" ? 0 : 1;
      b = encodeTuple([e.term, e.index, type], e.data, cbor);
      encoded?.set(e, b);
    }
    items.push(b);
  }
  return withArrayField(cbor.encode(rest), "entries", items);
}

/** Decodes and shape-checks a message; throws StreamBusError "Invalid" on anything malformed. */
export function decodeMessage(b: Uint8Array): Message {
  if (!(b instanceof Uint8Array)) bad("frame must be bytes");
  let v: unknown;
  try {
    v = cbor.decode(b);
  } catch (e) {
    bad(`not valid CBOR (${e instanceof Error ? e.message : String(e)})`);
  }
  return validateMessage(v);
}

function confChangeSingle(v: unknown, i: number): ConfChangeSingle {
  if (!isObj(v)) bad(`changes[${i}] must be a map`);
  if (v.type !== "addVoter" && v.type !== "addLearner" && v.type !== "removeNode") bad(`changes[${i}].type is unknown`);
  const id = uint(v.nodeId, `changes[${i}].nodeId`);
  if (id === 0) bad(`changes[${i}].nodeId must be positive`);
  const c: ConfChangeSingle = { type: v.type, nodeId: id };
  if (v.addr !== undefined && v.addr !== null) {
    if (typeof v.addr !== "string") bad(`changes[${i}].addr must be a string`);
    c.addr = v.addr;
  }
  return c;
}

/** Checks the shape of a ConfChange and returns a clean copy; throws StreamBusError "Invalid" otherwise. */
export function validateConfChange(v: unknown): ConfChange {
  if (!isObj(v)) bad("conf change must be a map");
  if (!Array.isArray(v.changes)) bad("conf change needs a changes array");
  const cc: ConfChange = { changes: v.changes.map(confChangeSingle) };
  for (const f of ["leaveJoint", "joint", "autoLeave"] as const) {
    if (v[f] !== undefined && v[f] !== null) {
      if (typeof v[f] !== "boolean") bad(`conf change ${f} must be a boolean`);
      cc[f] = v[f] as boolean;
    }
  }
  return cc;
}

/** Encodes a ConfChange as the data of a confChange entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return cbor.encode(validateConfChange(cc));
}

/** Decodes the data of a confChange entry; throws StreamBusError "Invalid" when malformed. */
export function decodeConfChange(b: Uint8Array): ConfChange {
  let v: unknown;
  try {
    v = cbor.decode(b);
  } catch (e) {
    bad(`conf change is not valid CBOR (${e instanceof Error ? e.message : String(e)})`);
  }
  return validateConfChange(v);
}
