/**
 * The fault suite's client side: admin-API operations recorded as a history for the linearizability
 * checker (src/testing/linearizability.ts, the per-key register model). Brokers are registers keyed
 * `b<id>` holding the port of the last registration; topics are create-once registers keyed `t<name>`:
 * a create is `cas(null -> "1")` (201 = swapped, 409 Conflict = already there), a read is `get`.
 */
import { type KvInput, type KvOutput, type Operation } from "../../src/testing/linearizability.ts";

export type ChaosOp = Operation<KvInput, KvOutput>;

/** What one HTTP call ended as: a response, a definite failure (nothing sent), or unknown (timeout, reset). */
export type CallOutcome = { kind: "response"; status: number; body: any } | { kind: "refused" } | { kind: "unknown"; why: string };

/** One admin API call with a deadline, classified for the history. */
export async function call(port: number, method: string, path: string, body: unknown, timeoutMs: number): Promise<CallOutcome> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch { /* not JSON */ }
    return { kind: "response", status: res.status, body: parsed };
  } catch (e) {
    const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string } };
    const code = err.code ?? err.cause?.code ?? "";
    // Connection refused: the request never reached a server, so a write certainly did not happen.
    if (/ConnectionRefused|ECONNREFUSED/i.test(code) || /ConnectionRefused|ECONNREFUSED/i.test(err.message ?? "")) {
      return { kind: "refused" };
    }
    return { kind: "unknown", why: err.name === "TimeoutError" ? "timeout" : (code || err.message || String(e)) };
  }
}

export interface OpRecorder {
  /** Records a finished op; output undefined = unknown outcome (return = Infinity). */
  record(input: KvInput, output: KvOutput | undefined, call: number, ret: number, clientId: number): void;
  readonly ops: ChaosOp[];
}

export function recorder(): OpRecorder {
  const ops: ChaosOp[] = [];
  return {
    ops,
    record(input, output, callT, ret, clientId) {
      ops.push({ input, output, call: callT, return: output === undefined ? Infinity : ret, clientId, id: ops.length });
    },
  };
}

export type OpResult = "ok" | "failed" | "unknown";

/** Registers broker `id` with `port` (a unique value per write) through node `nodePort`. */
export async function registerBroker(rec: OpRecorder, now: () => number, client: number, nodePort: number, id: number, port: number, timeoutMs: number): Promise<OpResult> {
  const t0 = now();
  const r = await call(nodePort, "POST", "/v1/brokers", { id, host: `chaos-${id}`, port }, timeoutMs);
  const t1 = now();
  const input: KvInput = { op: "put", key: `b${id}`, value: String(port) };
  if (r.kind === "refused") return "failed";
  if (r.kind === "response" && (r.status === 200 || r.status === 201)) {
    rec.record(input, {}, t0, t1, client);
    return "ok";
  }
  // Any other answer (503 NoLeader, Timeout, Unavailable) may hide a write that commits later.
  rec.record(input, undefined, t0, t1, client);
  return "unknown";
}

/** Reads broker `id` (linearizable) through node `nodePort`. */
export function readBroker(rec: OpRecorder, now: () => number, client: number, nodePort: number, id: number, timeoutMs: number): Promise<OpResult> {
  return readRegister(rec, now, client, nodePort, `/v1/brokers/${id}`, `b${id}`, (body) => String(body.port), timeoutMs);
}

/** Creates topic `name` (1 partition, replication factor 1) through node `nodePort`. */
export async function createTopic(rec: OpRecorder, now: () => number, client: number, nodePort: number, name: string, timeoutMs: number): Promise<OpResult> {
  const t0 = now();
  const r = await call(nodePort, "POST", "/v1/topics", { name, partitions: 1, replicationFactor: 1 }, timeoutMs);
  const t1 = now();
  const input: KvInput = { op: "cas", key: `t${name}`, expected: null, value: "1" };
  if (r.kind === "refused") return "failed";
  if (r.kind === "response" && r.status === 201) rec.record(input, { ok: true }, t0, t1, client);
  else if (r.kind === "response" && r.status === 409 && r.body?.error?.code === "Conflict") rec.record(input, { ok: false }, t0, t1, client);
  else {
    rec.record(input, undefined, t0, t1, client);
    return "unknown";
  }
  return "ok";
}

/** Reads whether topic `name` exists (linearizable) through node `nodePort`. */
export function readTopic(rec: OpRecorder, now: () => number, client: number, nodePort: number, name: string, timeoutMs: number): Promise<OpResult> {
  return readRegister(rec, now, client, nodePort, `/v1/topics/${name}`, `t${name}`, () => "1", timeoutMs);
}

/**
 * GETs `path` through node `nodePort`, recorded as a `get` of register `key`: 200 reads `valueOf(body)`,
 * 404 NotFound reads null.
 */
async function readRegister(
  rec: OpRecorder,
  now: () => number,
  client: number,
  nodePort: number,
  path: string,
  key: string,
  valueOf: (body: any) => string,
  timeoutMs: number,
): Promise<OpResult> {
  const t0 = now();
  const r = await call(nodePort, "GET", path, undefined, timeoutMs);
  const t1 = now();
  if (r.kind !== "response") return r.kind === "refused" ? "failed" : "unknown";
  const input: KvInput = { op: "get", key };
  if (r.status === 200) rec.record(input, { value: valueOf(r.body) }, t0, t1, client);
  else if (r.status === 404 && r.body?.error?.code === "NotFound") rec.record(input, { value: null }, t0, t1, client);
  else return "failed"; // a read that did not answer constrains nothing
  return "ok";
}
