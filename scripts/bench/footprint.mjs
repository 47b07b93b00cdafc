#!/usr/bin/env node
// `npm run bench:footprint`: per runtime (Bun, Deno, Node), the idle RSS of one node, the time from process
// start to its readiness line (node.ready), and the time for a fresh 3-node cluster to elect a leader;
// beside etcd's when etcd is installed.
//   node scripts/bench/footprint.mjs [--runtimes bun,deno,node] [--runs 3] [--idle-seconds 15]
// Each figure is the median of --runs fresh starts (temp data dirs, fsync on). Linux (/proc) only for RSS.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import {
  cleanupAll, cliFlags, etcdVersion, killAndWait, rssMiB, sleep, spawnNode, startEtcd, startProcess, startStreamBus, waitFor,
} from "./bench-procs.mjs";

const flag = cliFlags("usage: node scripts/bench/footprint.mjs [--runtimes bun,deno,node] [--runs 3] [--idle-seconds 15]");
const runtimes = flag("--runtimes", "bun,deno,node").split(",");
const runs = Number(flag("--runs", "3"));
// Idle RSS is read after this long without load: long enough for the allocators' timers to have handed
// freed memory back (the Bun node command keeps freed memory 10 s, runtimes/bun/allocator-env.ts), so it
// is the steady idle figure.
const idleSeconds = Number(flag("--idle-seconds", "15"));
const median = (xs) => {
  const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined;
};
const version = (cmd, a, re) => {
  const r = spawnSync(cmd, a, { encoding: "utf8" });
  return r.error ? "?" : (re.exec(r.stdout + r.stderr)?.[1] ?? "?");
};

/** One single-node cluster: ms from spawn to node.ready, and RSS after idling. */
async function singleNode(runtime, port) {
  const dir = mkdtempSync(join(tmpdir(), "sb-footprint-"));
  const n = spawnNode(runtime, { id: 1, peers: `1=127.0.0.1:${port}`, dataDir: join(dir, "n1"), logLevel: "info" });
  try {
    const readyMs = await Promise.race([n.ready, sleep(20_000).then(() => { throw new Error(`${runtime} node not ready in 20 s: ${n.stderr().slice(0, 300)}`); })]);
    await waitFor(async () => (await (await fetch(`http://127.0.0.1:${port}/health`)).json()).leaderId === 1, "the single node to lead");
    await sleep(idleSeconds * 1000);
    return { readyMs, rss: rssMiB(n.proc.pid) };
  } finally {
    await killAndWait([n.proc]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function etcdSingle() {
  const dir = mkdtempSync(join(tmpdir(), "sb-footprint-etcd-"));
  const url = "http://127.0.0.1:24379";
  const t0 = performance.now();
  const p = startProcess("etcd", ["--name", "solo", "--data-dir", join(dir, "d"), "--listen-client-urls", url, "--advertise-client-urls", url,
    "--listen-peer-urls", "http://127.0.0.1:24380", "--initial-advertise-peer-urls", "http://127.0.0.1:24380",
    "--initial-cluster", "solo=http://127.0.0.1:24380", "--log-level", "error"]);
  try {
    await waitFor(async () => (await fetch(`${url}/health`)).ok, "etcd health");
    const readyMs = performance.now() - t0;
    await sleep(idleSeconds * 1000);
    return { readyMs, rss: rssMiB(p.pid) };
  } finally {
    await killAndWait([p]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [];
if (runtimes.includes("node")) {
  // Always rebuild: a stale dist/node.js would measure old code.
  const r = spawnSync(process.execPath, ["scripts/build.mjs"], { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error("`node scripts/build.mjs` failed");
}
try {
  let port = 19501;
  for (const rt of runtimes) {
    // One unmeasured start warms the runtime's module caches (Deno's npm cache, Bun's transpiler cache).
    await singleNode(rt, port++);
    const single = [], cluster = [];
    for (let i = 0; i < runs; i++) {
      single.push(await singleNode(rt, port++));
      const sb = await startStreamBus({ runtime: rt, basePort: 19601 + 10 * i, logLevel: "info" });
      await sleep(idleSeconds * 1000);
      const leader = sb.nodes.find((n) => n.port === sb.leaderPort);
      cluster.push({ electedMs: sb.electedMs, leaderRss: rssMiB(leader.proc.pid) });
      sb.stop();
    }
    rows.push({
      name: rt,
      rss: median(single.map((s) => s.rss)),
      readyMs: median(single.map((s) => s.readyMs)),
      electedMs: median(cluster.map((c) => c.electedMs)),
      leaderRss: median(cluster.map((c) => c.leaderRss)),
    });
    console.log(`${rt}: ${JSON.stringify(rows.at(-1))}`);
  }
  const ev = etcdVersion();
  if (ev) {
    const single = [], cluster = [];
    for (let i = 0; i < runs; i++) {
      single.push(await etcdSingle());
      const e = await startEtcd();
      await sleep(idleSeconds * 1000);
      const leader = e.nodes.find((n) => n.url === e.leaderUrl);
      cluster.push({ electedMs: e.electedMs, leaderRss: rssMiB(leader.proc.pid) });
      e.stop();
    }
    rows.push({
      name: `etcd ${ev}`,
      rss: median(single.map((s) => s.rss)),
      readyMs: median(single.map((s) => s.readyMs)),
      electedMs: median(cluster.map((c) => c.electedMs)),
      leaderRss: median(cluster.map((c) => c.leaderRss)),
    });
  } else {
    console.log("etcd is NOT installed (no `etcd` on PATH; Debian: apt-get install etcd-server): no etcd row.");
  }
} finally {
  cleanupAll();
}

const nodeV = process.version;
const bunV = version(join("node_modules", ".bin", "bun"), ["--version"], /(\S+)/);
const denoV = version(join("node_modules", ".bin", "deno"), ["--version"], /deno (\S+)/);
console.log(`\nmachine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}); bun ${bunV}, deno ${denoV}, node ${nodeV}; median of ${runs} runs`);
console.log("runtime        | idle RSS, 1-node | idle RSS, leader of 3 | start → ready | fresh 3-node cluster: start → leader known on all");
console.log("---------------+------------------+-----------------------+---------------+--------------------------------------------------");
const f = (x, unit, d = 0) => (x === undefined ? "-" : `${x.toFixed(d)} ${unit}`);
for (const r of rows) {
  console.log(`${r.name.padEnd(14)} | ${f(r.rss, "MiB", 1).padStart(16)} | ${f(r.leaderRss, "MiB", 1).padStart(21)} | ${f(r.readyMs, "ms").padStart(13)} | ${f(r.electedMs, "ms").padStart(10)}`);
}
console.log("(start → ready: spawn to the node.ready log line, or etcd answering /health; goals on Bun: ≤ 50 MiB, < 300 ms)");
