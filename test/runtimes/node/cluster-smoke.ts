// Smoke check under Node (bundled by scripts/test.mjs with esbuild, then run with node): three Node node
// processes (runtimes/node/node.ts built like dist/node.js) form a cluster; brokers and a topic over HTTP;
// kill -9 the leader; nothing acknowledged is lost; the node restarts and catches up. Also the peer
// transport's basics in-process with `ws`. Exits non-zero on failure.
import { buildNodeEntry, ProcCluster } from "../../e2e/harness.ts";
import { failover } from "../../e2e/scenarios.ts";
import { transportSmoke } from "../transport-smoke.ts";
import { WebSocket } from "ws";
import { webSocketTransport } from "../../../runtimes/node/mod.ts";

const entry = ".tmp/node-smoke/node-entry.js";
buildNodeEntry(entry);
const cluster = await ProcCluster.create({ runtimes: ["node", "node", "node"], nodeEntry: entry, extraArgs: ["--snapshot-threshold", "16", "--snapshot-log-ratio", "0"] });
let ok = false;
try {
  await transportSmoke(webSocketTransport, "node", WebSocket as unknown as new (url: string) => globalThis.WebSocket);
  await cluster.start();
  const { snapshotInstalled } = await failover(cluster, { writesWhileDown: 40 });
  if (!snapshotInstalled) throw new Error("the restarted node did not catch up from a snapshot");
  ok = true;
  console.log("node cluster smoke: ok");
} catch (e) {
  console.error(`node cluster smoke FAILED: ${(e as Error).stack ?? e}`);
  console.error(cluster.logs());
} finally {
  await cluster.destroy();
}
process.exit(ok ? 0 : 1);
