/**
 * Raft configuration defaults and validation. Timeouts are in milliseconds; the core converts them to
 * ticks of `tickInterval` ms (see `electionTicks` / `heartbeatTicks`).
 */
import { StreamBusError } from "../errors.ts";
import type { RaftConfig } from "./types.ts";

/**
 * The defaults of CONTRACT.md. Set `nodeId`, `dataDir` and `peers` before use.
 *
 * @example
 * const c = defaultConfig(); c.nodeId = 1; c.peers = [{ id: 1, addr: "127.0.0.1:19001" }];
 */
export function defaultConfig(): RaftConfig {
  return {
    nodeId: 1,
    dataDir: "./data",
    peers: [],
    electionTimeout: 1500,
    heartbeatInterval: 150,
    tickInterval: 50,
    snapshotThreshold: 8192,
    snapshotLogRatio: 4,
    compactionOverhead: 1024,
    maxAppendEntries: 64,
    maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 256,
    snapshotChunkSize: 1 << 20,
    preVote: true,
    checkQuorum: true,
    leaseRead: false,
    maxUncommittedSize: 0,
  };
}

/** Election timeout in ticks (T; followers time out after a random value in [T, 2T)). */
export function electionTicks(c: RaftConfig): number {
  return Math.max(1, Math.round(c.electionTimeout / c.tickInterval));
}

/** Heartbeat interval in ticks. */
export function heartbeatTicks(c: RaftConfig): number {
  return Math.max(1, Math.round(c.heartbeatInterval / c.tickInterval));
}

function invalid(message: string, field: string): never {
  throw new StreamBusError("Invalid", `raft config: ${message}`, { field });
}

function positiveInt(c: RaftConfig, field: keyof RaftConfig): void {
  const v = c[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) invalid(`${field} must be a positive integer (got ${String(v)})`, field);
}

function nonNegativeInt(c: RaftConfig, field: keyof RaftConfig): void {
  const v = c[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) invalid(`${field} must be a non-negative integer (got ${String(v)})`, field);
}

/**
 * Throws StreamBusError "Invalid" naming the offending field when the config cannot work. An empty
 * `peers` list is allowed: the node then starts with no configuration and waits to be added by a leader
 * (it learns the membership from the log or a snapshot). Otherwise `peers` must list this node.
 *
 * @example
 * validateConfig({ ...defaultConfig(), heartbeatInterval: 1000 }); // throws: heartbeat not well below the election timeout
 */
export function validateConfig(c: RaftConfig): void {
  positiveInt(c, "nodeId");
  positiveInt(c, "electionTimeout");
  positiveInt(c, "heartbeatInterval");
  positiveInt(c, "tickInterval");
  positiveInt(c, "snapshotThreshold");
  nonNegativeInt(c, "compactionOverhead");
  positiveInt(c, "maxAppendEntries");
  positiveInt(c, "maxSizePerMsg");
  positiveInt(c, "maxInflightMsgs");
  positiveInt(c, "snapshotChunkSize");
  nonNegativeInt(c, "maxUncommittedSize");
  if (!(typeof c.snapshotLogRatio === "number" && Number.isFinite(c.snapshotLogRatio) && c.snapshotLogRatio >= 0)) {
    invalid(`snapshotLogRatio must be a number >= 0 (got ${String(c.snapshotLogRatio)})`, "snapshotLogRatio");
  }
  if (c.proposalLingerMs !== undefined && !(Number.isFinite(c.proposalLingerMs) && c.proposalLingerMs >= 0)) {
    invalid(`proposalLingerMs must be a number >= 0, got ${c.proposalLingerMs}`, "proposalLingerMs");
  }
  if (c.heartbeatInterval * 5 > c.electionTimeout) {
    invalid(
      `heartbeatInterval (${c.heartbeatInterval} ms) must be at most a fifth of electionTimeout (${c.electionTimeout} ms), ` +
        "or followers time out between heartbeats",
      "heartbeatInterval",
    );
  }
  if (c.tickInterval > c.heartbeatInterval) {
    invalid(`tickInterval (${c.tickInterval} ms) must not exceed heartbeatInterval (${c.heartbeatInterval} ms)`, "tickInterval");
  }
  if (electionTicks(c) < 2) invalid("electionTimeout must span at least 2 ticks", "electionTimeout");
  if (c.leaseRead && !c.checkQuorum) invalid("leaseRead requires checkQuorum (a leader must step down when it loses its quorum)", "leaseRead");
  for (const f of ["preVote", "checkQuorum", "leaseRead"] as const) {
    if (typeof c[f] !== "boolean") invalid(`${f} must be a boolean`, f);
  }
  if (c.clusterToken !== undefined && typeof c.clusterToken !== "string") invalid("clusterToken must be a string", "clusterToken");
  if (!Array.isArray(c.peers)) invalid("peers must be an array of { id, addr }", "peers");
  const seen = new Set<number>();
  for (const p of c.peers) {
    if (!p || !Number.isSafeInteger(p.id) || p.id < 1) invalid(`peer id must be a positive integer (got ${String(p?.id)})`, "peers");
    if (typeof p.addr !== "string") invalid(`peer ${p.id} needs an addr string (host:port)`, "peers");
    if (seen.has(p.id)) invalid(`duplicate peer id ${p.id}`, "peers");
    seen.add(p.id);
  }
  if (c.peers.length > 0 && !seen.has(c.nodeId)) {
    invalid(`own id ${c.nodeId} is missing from peers (${[...seen].join(", ")}); list every initial voter including this node`, "peers");
  }
}
