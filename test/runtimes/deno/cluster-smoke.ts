// Smoke check under Deno (run by scripts/test.mjs with `deno run -A`): three Deno node processes form a
// cluster; brokers registered and a topic created over HTTP; kill -9 the leader; nothing acknowledged is
// lost; the node restarts and catches up. Also the peer transport's conformance basics in-process.
// Exits non-zero on failure.
import { ProcCluster } from "../../e2e/harness.ts";
import { failover } from "../../e2e/scenarios.ts";
import { transportSmoke } from "../transport-smoke.ts";
import { webSocketTransport } from "../../../runtimes/deno/mod.ts";

const cluster = await ProcCluster.create({ runtimes: ["deno", "deno", "deno"], extraArgs: ["--snapshot-threshold", "16", "--snapshot-log-ratio", "0"] });
let ok = false;
try {
  await transportSmoke(webSocketTransport, "deno");
  await cluster.start();
  const { snapshotInstalled } = await failover(cluster, { writesWhileDown: 40 });
  if (!snapshotInstalled) throw new Error("the restarted node did not catch up from a snapshot");
  ok = true;
  console.log("deno cluster smoke: ok");
} catch (e) {
  console.error(`deno cluster smoke FAILED: ${(e as Error).stack ?? e}`);
  console.error(cluster.logs());
} finally {
  await cluster.destroy();
}
Deno.exit(ok ? 0 : 1);
