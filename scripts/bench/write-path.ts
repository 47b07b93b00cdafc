/**
 * CPU per write through the whole StreamBus stack, in one process: three nodes on memory ports (memory
 * storage, in-memory links), and `POST /v1/brokers` requests through the leader's Hono app, as bench:etcd's
 * load sends them. No sockets, disks or HTTP parsing: what it counts is StreamBus's own JavaScript per
 * write on all three nodes (admin route, registry, metadata store, Raft, wire and log encoding, apply on
 * every node), with far less noise than the three-process benchmark. Profile it with
 * `bun --cpu-prof scripts/bench/write-path.ts`.
 *
 *   npm run bench:write-path -- [--writes 60000] [--conc 256] [--warmup 30000]
 */
import { startMemoryNodes } from "../../src/testing/memory-nodes.ts";

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const writes = flag("--writes", 60_000);
const conc = flag("--conc", 256);
const warmup = flag("--warmup", 30_000);

const { nodes, leader: leading } = await startMemoryNodes(3);
const leader = leading();

let seq = 0;
let failed = 0;
async function run(total: number): Promise<void> {
  let issued = 0;
  const worker = async () => {
    while (issued < total) {
      const n = seq++;
      issued++;
      const body = JSON.stringify({ id: 1000 + (n % 10000), host: "127.0.0.1", port: 1024 + (n % 60000), tags: { v: "x".repeat(100) } });
      const res = await leader.app.request("/v1/brokers", { method: "POST", headers: { "content-type": "application/json", "content-length": String(body.length) }, body });
      await res.arrayBuffer();
      if (res.status >= 300) failed++;
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
}

await run(warmup);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await run(writes);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const runtime = typeof Bun !== "undefined" ? `bun ${Bun.version}` : `node ${process.version}`;
console.log(`write path on ${runtime}: ${writes} writes at concurrency ${conc} after ${warmup} warm-up writes`);
console.log(`  CPU per write (3 nodes, one process): ${((cpu.user + cpu.system) / writes).toFixed(1)} µs` +
  ` (user ${(cpu.user / writes).toFixed(1)}, system ${(cpu.system / writes).toFixed(1)}); ${Math.round(writes / (ms / 1000))} writes/s${failed ? `; ${failed} FAILED` : ""}`);
await Promise.all(nodes.map((n) => n.stop({ transferTimeoutMs: 100 })));
process.exit(failed ? 1 : 0);
