/**
 * The node command's main, shared by runtimes/{bun,deno,node}/node.ts: parse flags, start a StreamBusNode,
 * and on SIGTERM/SIGINT hand leadership over, flush and exit 0. Each runtime supplies its process glue.
 */
import { jsonLogger } from "../logger.ts";
import type { Storage } from "../ports/storage.ts";
import type { RuntimeAdapter } from "../transport/runtime-adapter.ts";
import { parseNodeArgs, UsageError } from "./cli.ts";
import { StreamBusNode } from "./streambus-node.ts";

export interface CommandHost {
  argv: string[];
  env: Record<string, string | undefined>;
  runtime: RuntimeAdapter;
  storage(dataDir: string): Storage;
  /** Writes one line to stdout / stderr. */
  out(line: string): void;
  err(line: string): void;
  onSignal(signal: "SIGTERM" | "SIGINT", fn: () => void): void;
  exit(code: number): never | void;
}

/** Runs the node until a signal; returns the started node (for tests that embed the command). */
export async function runNodeCommand(host: CommandHost): Promise<StreamBusNode | undefined> {
  let parsed;
  try {
    parsed = parseNodeArgs(host.argv, host.env);
  } catch (e) {
    host.err(`streambus: ${e instanceof UsageError ? e.message : (e as Error).message}`);
    host.exit(2);
    return undefined;
  }
  if (parsed.kind === "help") {
    host.out(parsed.text);
    host.exit(0);
    return undefined;
  }
  const o = parsed.options;
  const logger = jsonLogger({ nodeId: o.nodeId }, host.out, o.logLevel);
  let node: StreamBusNode;
  try {
    node = new StreamBusNode({
      nodeId: o.nodeId,
      peers: o.peers,
      listen: o.listen,
      dataDir: o.dataDir,
      runtime: host.runtime,
      storage: host.storage(o.dataDir),
      logger,
      ...(o.clusterSecret !== undefined && { clusterSecret: o.clusterSecret }),
      raft: {
        ...(o.clusterToken !== undefined && { clusterToken: o.clusterToken }),
        ...(o.snapshotLogRatio !== undefined && { snapshotLogRatio: o.snapshotLogRatio }),
      },
      ...(o.adminToken !== undefined && { adminToken: o.adminToken }),
      ...(o.snapshotThreshold !== undefined && { snapshotThreshold: o.snapshotThreshold }),
      ...(o.faultInjection && { faultInjection: true }),
      ...(o.join && { join: true }),
    });
    await node.start();
  } catch (e) {
    host.err(`streambus: node ${o.nodeId} failed to start: ${oneLine((e as Error).message ?? String(e))}`);
    host.exit(1);
    return undefined;
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("node.signal", { signal });
    // A stuck stop must not keep the process alive forever.
    const guard = setTimeout(() => {
      logger.error("node.stop_timeout", {});
      host.exit(1);
    }, 10_000);
    node.stop().then(
      () => {
        clearTimeout(guard);
        host.exit(0);
      },
      (e) => {
        logger.error("node.stop_failed", { error: e });
        host.exit(1);
      },
    );
  };
  host.onSignal("SIGTERM", () => shutdown("SIGTERM"));
  host.onSignal("SIGINT", () => shutdown("SIGINT"));
  return node;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").slice(0, 500);
}
