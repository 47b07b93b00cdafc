/**
 * Command-line flags of the node command (CONTRACT.md §2), shared by every runtime's entry.
 *
 * @example
 * const r = parseNodeArgs(["--id", "1", "--peers", "1=127.0.0.1:19001,2=127.0.0.1:19002"], {});
 * if (r.kind === "run") await new StreamBusNode({ ...r.options, runtime, storage }).start();
 */
import type { LogLevel } from "../logger.ts";
import type { Peer } from "../raft/types.ts";
import { parseHostPort } from "../transport/link-protocol.ts";

export interface NodeCommandOptions {
  nodeId: number;
  peers: Peer[];
  /** host:port serving the admin API and the peer WebSocket. */
  listen: string;
  dataDir: string;
  clusterSecret?: string;
  /** Mixed into the id a new cluster derives from its peers (RaftConfig.clusterToken). */
  clusterToken?: string;
  adminToken?: string;
  /** Entries applied between snapshots (default: the Raft default, 8192). */
  snapshotThreshold?: number;
  /** Log bytes between snapshots, as a multiple of the last snapshot's (RaftConfig.snapshotLogRatio). */
  snapshotLogRatio?: number;
  logLevel: LogLevel;
  /** Fault suite only: serve POST /debug/partition (see src/transport/fault-injection.ts). */
  faultInjection?: boolean;
  /** Join a running cluster that already added this node (POST /v1/cluster/members), not bootstrap one. */
  join?: boolean;
}

export type ParsedArgs = { kind: "help"; text: string } | { kind: "run"; options: NodeCommandOptions };

/** A bad flag: the entry prints `message` on one line and exits non-zero. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const USAGE = `streambus node: one StreamBus metadata node (admin HTTP API and peer WebSocket on one port)

usage: <runtime> <entry> --id N [options]
  bun run runtimes/bun/node.ts | deno run -A runtimes/deno/node.ts | node dist/node.js

options:
  --id N, --node-id N        this node's id (required, a positive integer)
  --peers LIST               id=host:port,... or host:port,... (ids 1..n in order); default: a one-node cluster
  --listen host:port         address of the admin API and peer WebSocket (alias --raft-addr);
                             default: this node's entry in --peers, else 127.0.0.1:19001
  --data-dir DIR             durable state (default ./data/node-<id>)
  --cluster-secret S         peers must prove it to open a link (env STREAMBUS_CLUSTER_SECRET);
                             without it only loopback peers are accepted
  --cluster-token T          tells apart clusters founded on the same addresses (etcd's
                             --initial-cluster-token); give every founding member the same one.
                             Nodes of different clusters refuse each other's links
  --admin-token T            bearer token required on admin writes (env STREAMBUS_ADMIN_TOKEN)
  --snapshot-threshold N     entries applied between snapshots (default 8192)
  --snapshot-log-ratio R     a snapshot also waits until the log since the last one holds R times
                             its bytes, so a large state is not rewritten every N entries
                             (default 4; 0: the entry count alone decides)
  --join                     join a running cluster instead of starting a new one: add the node first
                             (POST /v1/cluster/members on any member), then start it with --join and
                             --peers listing the members (for their addresses) and itself
  --log-level L              debug | info | warn | error (default info)
  --fault-injection          testing only: serve POST /debug/partition {"block":[ids]} to drop
                             frames to/from those peers (off by default; never in production)
  --help                     this text`;

const ALIASES: Record<string, string> = {
  "--id": "id", "--node-id": "id", "--peers": "peers", "--listen": "listen", "--raft-addr": "listen",
  "--data-dir": "dataDir", "--cluster-secret": "clusterSecret", "--admin-token": "adminToken",
  "--cluster-token": "clusterToken",
  "--snapshot-threshold": "snapshotThreshold", "--snapshot-log-ratio": "snapshotLogRatio", "--log-level": "logLevel",
};

/** Parses argv (without the runtime and script) and the environment. Throws UsageError on bad input. */
export function parseNodeArgs(argv: string[], env: Record<string, string | undefined>): ParsedArgs {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return { kind: "help", text: USAGE };
    if (arg === "--fault-injection" || arg === "--join") {
      raw[arg === "--join" ? "join" : "faultInjection"] = "1";
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const key = ALIASES[flag];
    if (!key) throw new UsageError(`unknown flag "${arg}" (see --help)`);
    let value: string | undefined;
    if (flag !== arg) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a value`);
    }
    if (key in raw) throw new UsageError(`${flag} given twice`);
    raw[key] = value;
  }

  if (raw.id === undefined) throw new UsageError("--id is required (this node's id, a positive integer)");
  const nodeId = positiveInt(raw.id, "--id");
  let peers: Peer[] | undefined = raw.peers !== undefined ? parsePeers(raw.peers) : undefined;
  if (peers && !peers.some((p) => p.id === nodeId)) {
    throw new UsageError(`node ${nodeId} is not in --peers (ids: ${peers.map((p) => p.id).join(", ")})`);
  }
  const listen = raw.listen ?? peers?.find((p) => p.id === nodeId)?.addr ?? "127.0.0.1:19001";
  checkAddr(listen, "--listen");
  peers ??= [{ id: nodeId, addr: listen }];

  const clusterSecret = raw.clusterSecret ?? nonEmpty(env.STREAMBUS_CLUSTER_SECRET);
  const adminToken = raw.adminToken ?? nonEmpty(env.STREAMBUS_ADMIN_TOKEN);
  if (clusterSecret !== undefined && clusterSecret.length === 0) throw new UsageError("--cluster-secret must not be empty");
  if (adminToken !== undefined && adminToken.length === 0) throw new UsageError("--admin-token must not be empty");
  const logLevel = (raw.logLevel ?? "info") as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new UsageError(`--log-level must be debug, info, warn or error`);
  const options: NodeCommandOptions = {
    nodeId,
    peers,
    listen,
    dataDir: raw.dataDir ?? `./data/node-${nodeId}`,
    logLevel,
  };
  if (raw.dataDir !== undefined && raw.dataDir.trim() === "") throw new UsageError("--data-dir must not be empty");
  if (clusterSecret !== undefined) options.clusterSecret = clusterSecret;
  if (raw.clusterToken !== undefined) {
    if (raw.clusterToken.length === 0) throw new UsageError("--cluster-token must not be empty");
    options.clusterToken = raw.clusterToken;
  }
  if (adminToken !== undefined) options.adminToken = adminToken;
  if (raw.faultInjection !== undefined) options.faultInjection = true;
  if (raw.join !== undefined) {
    if (peers.length < 2) throw new UsageError("--join needs --peers listing at least one running member and this node");
    options.join = true;
  }
  if (raw.snapshotThreshold !== undefined) options.snapshotThreshold = positiveInt(raw.snapshotThreshold, "--snapshot-threshold");
  if (raw.snapshotLogRatio !== undefined) {
    const r = /^\d{1,6}(\.\d{1,6})?$/.test(raw.snapshotLogRatio.trim()) ? Number(raw.snapshotLogRatio) : NaN;
    if (!Number.isFinite(r)) throw new UsageError(`--snapshot-log-ratio must be a number >= 0, got "${raw.snapshotLogRatio}"`);
    options.snapshotLogRatio = r;
  }
  return { kind: "run", options };
}

/** `1=h:p,2=h:p` or `h:p,h:p` (ids 1..n in order). */
export function parsePeers(list: string): Peer[] {
  const items = list.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new UsageError("--peers is empty");
  const withIds = items.filter((s) => /^\d+=/.test(s)).length;
  if (withIds !== 0 && withIds !== items.length) {
    throw new UsageError("--peers mixes id=host:port and host:port entries; use one form");
  }
  const peers = items.map((item, i): Peer => {
    if (withIds === 0) {
      checkAddr(item, "--peers");
      return { id: i + 1, addr: item };
    }
    const [idText, addr] = [item.slice(0, item.indexOf("=")), item.slice(item.indexOf("=") + 1)];
    const id = positiveInt(idText, "--peers id");
    checkAddr(addr, "--peers");
    return { id, addr };
  });
  const seen = new Set<number>();
  for (const p of peers) {
    if (seen.has(p.id)) throw new UsageError(`--peers lists node ${p.id} twice`);
    seen.add(p.id);
  }
  return peers.sort((a, b) => a.id - b.id);
}

function positiveInt(text: string, flag: string): number {
  const n = /^\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 31 - 1) throw new UsageError(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

function checkAddr(addr: string, flag: string): void {
  try {
    const { port } = parseHostPort(addr);
    if (port === 0 && flag === "--peers") throw new Error();
  } catch {
    throw new UsageError(`${flag}: "${addr}" is not host:port (IPv6 in brackets: [::1]:19001)`);
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}
