/**
 * Wire formats of the RaftNode driver: the frame envelope that multiplexes Raft messages and app RPCs on
 * one peer link, and the proposal envelope that lets a proposer match its applied entry.
 */
import { Decoder, Encoder } from "cbor-x";
import { type ErrorCode, StreamBusError } from "../errors.ts";

const cbor = new Encoder({ useRecords: false });
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** First byte of every frame on a peer link. */
export const FrameKind = { raft: 1, rpcRequest: 2, rpcResponse: 3, raftBatch: 4 } as const;

/** Most Raft messages one batch frame carries (a bound on the work one frame can cause). */
export const MAX_BATCH_MESSAGES = 4096;

export interface RpcRequest {
  id: number;
  method: string;
  body: unknown;
  /** Sent by callLeader: the receiver answers NotLeader unless it leads. */
  leaderOnly?: boolean;
}

export interface RpcError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface RpcResponse {
  id: number;
  ok: boolean;
  body?: unknown;
  error?: RpcError;
}

export type DecodedFrame =
  | { kind: "raft"; payload: Uint8Array }
  | { kind: "raftBatch"; payloads: Uint8Array[] }
  | { kind: "rpcRequest"; request: RpcRequest }
  | { kind: "rpcResponse"; response: RpcResponse };

const ERROR_CODES = new Set<string>([
  "NotLeader", "NoLeader", "Timeout", "Conflict", "NotFound", "Invalid", "Unavailable", "Corrupt", "Unauthorized",
  "TooLarge",
]);

function withKind(kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = kind;
  out.set(body, 1);
  return out;
}

/** A Raft frame: the kind byte, then the encoded message. */
export function raftFrame(encodedMessage: Uint8Array): Uint8Array {
  return withKind(FrameKind.raft, encodedMessage);
}

export function rpcRequestFrame(req: RpcRequest): Uint8Array {
  const body: Record<string, unknown> = { id: req.id, method: req.method, body: req.body ?? null };
  if (req.leaderOnly) body.leaderOnly = true;
  return withKind(FrameKind.rpcRequest, cbor.encode(body));
}

export function rpcResponseFrame(res: RpcResponse): Uint8Array {
  const body: Record<string, unknown> = { id: res.id, ok: res.ok };
  if (res.ok) body.body = res.body ?? null;
  else body.error = res.error;
  return withKind(FrameKind.rpcResponse, cbor.encode(body));
}

/**
 * Several encoded Raft messages for one peer in one frame: the kind byte, then per message a u32 (big
 * endian) length and the bytes. One Ready's messages to a peer travel together, so a busy leader pays one
 * WebSocket send (one syscall) per peer per Ready instead of one per message.
 */
export function raftBatchFrame(encodedMessages: readonly Uint8Array[]): Uint8Array {
  let n = 1;
  for (const m of encodedMessages) n += 4 + m.length;
  const out = new Uint8Array(n);
  out[0] = FrameKind.raftBatch;
  let at = 1;
  for (const m of encodedMessages) {
    putU32(out, at, m.length);
    out.set(m, at + 4);
    at += 4 + m.length;
  }
  return out;
}

function splitBatch(rest: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < rest.length) {
    if (at + 4 > rest.length) throw new StreamBusError("Corrupt", "truncated length in a Raft batch frame");
    const len = getU32(rest, at);
    if (len === 0 || at + 4 + len > rest.length) throw new StreamBusError("Corrupt", "bad message length in a Raft batch frame");
    if (out.length >= MAX_BATCH_MESSAGES) throw new StreamBusError("Corrupt", `Raft batch frame holds more than ${MAX_BATCH_MESSAGES} messages`);
    out.push(rest.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (out.length === 0) throw new StreamBusError("Corrupt", "empty Raft batch frame");
  return out;
}

/** Splits a frame by kind and checks the RPC shapes. Throws Corrupt on anything malformed. */
export function decodeFrame(frame: Uint8Array): DecodedFrame {
  if (!(frame instanceof Uint8Array) || frame.length < 1) throw new StreamBusError("Corrupt", "empty frame");
  const kind = frame[0];
  const rest = frame.subarray(1);
  if (kind === FrameKind.raft) return { kind: "raft", payload: rest };
  if (kind === FrameKind.raftBatch) return { kind: "raftBatch", payloads: splitBatch(rest) };
  if (kind !== FrameKind.rpcRequest && kind !== FrameKind.rpcResponse) {
    throw new StreamBusError("Corrupt", `unknown frame kind ${kind}`);
  }
  let v: unknown;
  try {
    v = cborDecoder.decode(rest);
  } catch (e) {
    throw new StreamBusError("Corrupt", `undecodable RPC frame: ${(e as Error).message}`);
  }
  if (!isRecord(v) || !isRequestId(v.id)) throw new StreamBusError("Corrupt", "RPC frame without a valid id");
  if (kind === FrameKind.rpcRequest) {
    if (typeof v.method !== "string" || v.method.length === 0 || v.method.length > 200) {
      throw new StreamBusError("Corrupt", "RPC request without a valid method");
    }
    return { kind: "rpcRequest", request: { id: v.id, method: v.method, body: v.body, leaderOnly: v.leaderOnly === true } };
  }
  if (typeof v.ok !== "boolean") throw new StreamBusError("Corrupt", "RPC response without ok");
  if (v.ok) return { kind: "rpcResponse", response: { id: v.id, ok: true, body: v.body } };
  const err = v.error;
  if (!isRecord(err) || typeof err.code !== "string" || typeof err.message !== "string") {
    throw new StreamBusError("Corrupt", "RPC error response without code and message");
  }
  const code = (ERROR_CODES.has(err.code) ? err.code : "Unavailable") as ErrorCode;
  const details = isRecord(err.details) ? err.details : undefined;
  return { kind: "rpcResponse", response: { id: v.id, ok: false, error: { code, message: err.message, details } } };
}

/** The error a handler threw, in the form carried back to the caller. */
export function toRpcError(e: unknown, method: string): RpcError {
  if (e instanceof StreamBusError) {
    const details = Object.keys(e.details).length > 0 ? plainDetails(e.details) : undefined;
    return { code: e.code, message: e.message, details };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: "Unavailable", message: `handler for "${method}" failed: ${message}` };
}

/** Rebuilds a StreamBusError from an RPC error. */
export function fromRpcError(err: RpcError): StreamBusError {
  return new StreamBusError(err.code, err.message, err.details ?? {});
}

/** Only CBOR-friendly primitives survive in error details (no functions, no cycles). */
function plainDetails(d: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) out[k] = v;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function isRequestId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

// ---- proposal envelope -------------------------------------------------------------------------

/** Marks entry data written by RaftNode.propose; other data reaches the FSM unchanged. */
const PROPOSAL_MAGIC = 0xb5;
const PROPOSAL_VERSION = 1;
const PROPOSAL_HEADER = 14;

/** 2^32: incarnations, request ids and read ids are u32s. */
export const U32 = 0x1_0000_0000;

/** The id after `id` in 1..2^32-1 (ids wrap around, skipping 0). */
export function nextU32Id(id: number): number {
  return id + 1 >= U32 ? 1 : id + 1;
}

/** Who proposed an entry: node id, the proposer's incarnation (changes per start) and its request id. */
export interface ProposalTag {
  proposer: number;
  incarnation: number;
  requestId: number;
}

/** Wraps a payload: magic, version, proposer (u32), incarnation (u32), request id (u32), then the payload. */
export function wrapProposal(tag: ProposalTag, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(PROPOSAL_HEADER + payload.length);
  out[0] = PROPOSAL_MAGIC;
  out[1] = PROPOSAL_VERSION;
  putU32(out, 2, tag.proposer >>> 0);
  putU32(out, 6, tag.incarnation >>> 0);
  putU32(out, 10, tag.requestId >>> 0);
  out.set(payload, PROPOSAL_HEADER);
  return out;
}

/** Splits entry data into its tag and payload; data without the envelope is all payload. */
export function unwrapProposal(data: Uint8Array): { tag?: ProposalTag; payload: Uint8Array } {
  if (data.length < PROPOSAL_HEADER || data[0] !== PROPOSAL_MAGIC || data[1] !== PROPOSAL_VERSION) {
    return { payload: data };
  }
  return {
    tag: { proposer: getU32(data, 2), incarnation: getU32(data, 6), requestId: getU32(data, 10) },
    payload: data.subarray(PROPOSAL_HEADER),
  };
}

// Big-endian u32 by hand: a DataView needs the array's ArrayBuffer, which on Bun a fresh small array does
// not have yet (creating it costs more than these few byte operations), and this runs for every entry.
function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

function getU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
