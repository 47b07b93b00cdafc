#!/usr/bin/env node
// `npm run bench:etcd`: StreamBus (Bun, 3 nodes, fsync) beside etcd (3 nodes, fsync) on loopback, the same
// closed-loop HTTP write load against each leader at several concurrencies, alternating the systems.
//   node scripts/bench/etcd.mjs [--seconds 8] [--conc 1,16,64,256] [--runtime bun|deno|node] [--warmup 15]
//                               [--only streambus|etcd] [--log-level info] [--no-ceiling] [--client raw|node-http]
//                               [--repeat 1]
// etcd gets its v3 JSON gateway put (100-byte value); StreamBus gets POST /v1/brokers (re-registers one of
// 10,000 brokers with a 100-byte tag). Each reply means the write is fsynced on a majority.
// Unless --no-ceiling, the same load also drives a server that does nothing (scripts/bench/noop-server.ts):
// the load generator's own ceiling on this machine, which bounds every ratio that can be measured here.
import { cpus } from "node:os";
import { cleanupAll, cliFlags, etcdVersion, median, runLoad, startEtcd, startNoopServer, startStreamBus } from "./bench-procs.mjs";

const args = process.argv.slice(2);
const flag = cliFlags("usage: node scripts/bench/etcd.mjs [--seconds 8] [--conc 1,16,64,256] [--runtime bun] [--warmup 15] [--only streambus|etcd] [--log-level info] [--no-ceiling] [--client raw|node-http] [--repeat 1]");
const seconds = Number(flag("--seconds", "8"));
const concs = flag("--conc", "1,16,64,256").split(",").map(Number);
const runtime = flag("--runtime", "bun");
// Warm-up seconds per system at concurrency 64, before any measured point: StreamBus runs on a JIT, whose
// compiler threads take 15-30 % of a core per node for the first ~15 s of load (measured from /proc) and
// little after; etcd is compiled ahead of time. Measuring after the warm-up compares steady states.
const warmup = Number(flag("--warmup", "15"));
const only = flag("--only", "");
const logLevel = flag("--log-level", "");
const client = flag("--client", "raw");
// Runs of each point per system (alternating systems each time); the table shows the run with the median
// ops/s. Repeated runs on a shared 2-core VM vary by about ±20 %, so one run per point can mislead.
const repeat = Number(flag("--repeat", "1"));
const ceiling = !args.includes("--no-ceiling") && !only;
if (!(seconds > 0) || concs.some((c) => !(c >= 1)) || !["raw", "node-http"].includes(client) || !(Number.isInteger(repeat) && repeat >= 1)) {
  console.error("--seconds must be > 0, --conc a list of positive integers, --client raw or node-http and --repeat an integer >= 1");
  process.exit(2);
}

const version = only === "streambus" ? undefined : etcdVersion();
if (!version && only !== "streambus") {
  console.log("etcd is NOT installed (no `etcd` on PATH; Debian: apt-get install etcd-server): measuring StreamBus only.");
}
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}` +
  `${version ? `, etcd ${version}` : ""}; StreamBus on ${runtime}; ${seconds} s per point; ${client} HTTP client`);

const systems = [];
try {
  if (version) {
    const etcd = await startEtcd();
    console.log(`etcd: leader ${etcd.leaderUrl} (elected ${etcd.electedMs.toFixed(0)} ms after start)`);
    systems.push({ name: "etcd", mode: "etcd", url: etcd.putUrl, sys: etcd });
  }
  if (only !== "etcd") {
    const sb = await startStreamBus({ runtime, ...(logLevel && { logLevel }) });
    console.log(`streambus: leader on port ${sb.leaderPort} (elected ${sb.electedMs.toFixed(0)} ms after start)`);
    systems.push({ name: "streambus", mode: "streambus", url: sb.putUrl, sys: sb });
  }
  if (ceiling) {
    const noop = await startNoopServer();
    systems.push({ name: "noop", mode: "streambus", url: noop.putUrl, sys: noop });
  }
  if (warmup > 0) for (const s of systems) await runLoad(s.mode, s.url, 64, warmup, [], client);

  const rows = [];
  let turn = 0;
  for (const conc of concs) {
    const runs = Object.fromEntries(systems.map((s) => [s.name, []]));
    for (let i = 0; i < repeat; i++) {
      // Alternate which system goes first, so slow drift (page cache, thermal) hits both alike.
      const order = turn++ % 2 === 0 ? systems : [...systems].reverse();
      for (const s of order) {
        const r = await runLoad(s.mode, s.url, conc, seconds, s.sys.nodes.map((n) => n.proc.pid), client);
        runs[s.name].push(r);
        console.log(`  c=${conc} ${s.name}: ${r.ops_per_s} ops/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ` +
          `CPU per write: ${r.server_cpu_us} µs in the server processes, ${r.loader_cpu_us} µs in the load generator${r.bad ? `, ${r.bad} failed` : ""}`);
      }
    }
    const row = { conc };
    for (const [name, rs] of Object.entries(runs)) row[name] = [...rs].sort((a, b) => a.ops_per_s - b.ops_per_s)[(rs.length - 1) >> 1];
    row.bad = Object.values(runs).flat().reduce((n, r) => n + (r.bad ?? 0), 0);
    // The i-th runs of the two systems ran back to back, so their ratio sees the same machine: the median
    // of these is steadier than the ratio of the two medians when other jobs come and go.
    if (runs.streambus?.length && runs.etcd?.length) {
      row.pairs = runs.streambus.map((r, i) => r.ops_per_s / runs.etcd[i].ops_per_s).filter((x) => Number.isFinite(x));
    }
    rows.push(row);
  }
  if (repeat > 1) console.log(`\n(each row: the run with the median ops/s of ${repeat} per system)`);

  const pad = (s, n) => String(s ?? "-").padStart(n);
  console.log("\n conc |  streambus ops/s    p50     p99 |       etcd ops/s    p50     p99 | ratio ops/s  p50 | no-op ops/s  no-op/etcd");
  console.log("------+---------------------------------+---------------------------------+------------------+------------------------");
  for (const r of rows) {
    const s = r.streambus, e = r.etcd, n = r.noop;
    const ratio = s && e && e.ops_per_s ? (s.ops_per_s / e.ops_per_s).toFixed(2) + "x" : "-";
    const p50r = s && e ? (Number(s.p50_ms) / Number(e.p50_ms)).toFixed(2) + "x" : "-";
    const ceil = n && e && e.ops_per_s ? (n.ops_per_s / e.ops_per_s).toFixed(2) + "x" : "-";
    console.log(`${pad(r.conc, 5)} | ${pad(s?.ops_per_s, 16)} ${pad(s?.p50_ms, 6)} ${pad(s?.p99_ms, 7)} | ${pad(e?.ops_per_s, 16)} ${pad(e?.p50_ms, 6)} ${pad(e?.p99_ms, 7)} | ${pad(ratio, 11)} ${pad(p50r, 5)} | ${pad(n?.ops_per_s, 11)} ${pad(ceil, 11)}`);
  }
  if (repeat > 1 && rows.some((r) => r.pairs?.length)) {
    console.log("\npaired ratios (StreamBus/etcd of runs made back to back, so both saw the same machine):");
    for (const r of rows) {
      if (!r.pairs?.length) continue;
      console.log(`${pad(r.conc, 5)} | ${r.pairs.map((x) => x.toFixed(2) + "x").join(" ")}  median ${median(r.pairs).toFixed(2)}x`);
    }
  }
  if (rows.some((r) => r.noop)) {
    console.log("\nno-op: the same load generator against a server that does nothing (scripts/bench/noop-server.ts): the most any");
    console.log("system can show on this machine, as the generator shares its cores. no-op/etcd bounds every measurable ratio.");
  }
  if (!version && only !== "streambus") console.log("\n(etcd not installed: no etcd column. Install Debian's etcd-server to compare.)");
  const failed = rows.some((r) => r.bad > 0);
  if (failed) console.log("\nwarning: some requests failed (see the per-point lines above)");
} catch (e) {
  console.error(`bench:etcd failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  for (const s of systems) s.sys.stop();
  cleanupAll();
}
