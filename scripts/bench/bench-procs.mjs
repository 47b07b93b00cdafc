// Process helpers shared by the side-by-side benchmarks (etcd.mjs, footprint.mjs): start a 3-node etcd
// cluster and a 3-node StreamBus cluster on loopback in temp dirs, find their leaders, and clean up.
// Node.js only (node:child_process); paths are relative to the repository root.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const live = new Set();
let cleaned = false;

/** Kills every child this module started and removes its temp dirs (safe to call twice). */
export function cleanupAll() {
  if (cleaned) return;
  cleaned = true;
  for (const c of live) {
    try { c.proc.kill("SIGKILL"); } catch { /* gone */ }
  }
  for (const c of live) if (c.dir) rmSync(c.dir, { recursive: true, force: true });
  live.clear();
}
process.on("exit", cleanupAll);
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => { cleanupAll(); process.exit(130); });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Polls `fn` until it returns a truthy value; throws naming `what` after `ms`. */
export async function waitFor(fn, what, ms = 20_000, every = 20) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (${last.message})` : ""}`);
    await sleep(every);
  }
}

async function getJson(url, init) {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  return r.json();
}

/** etcd's version line, or undefined when the etcd binary is not on PATH. */
export function etcdVersion() {
  const r = spawnSync("etcd", ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return undefined;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? "unknown";
}

/** Resident set size of `pid` in MiB (Linux /proc), or undefined. */
export function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch { return undefined; }
}

/** CPU seconds (user + system) `pid` has used so far (Linux /proc), or 0 when unreadable. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch { return 0; }
}

function track(proc, dir) {
  const rec = { proc, dir, exited: false };
  proc.on("exit", () => { rec.exited = true; });
  live.add(rec);
  return rec;
}

/**
 * A 3-node etcd cluster with the flags of ../shared/bench/etcd-cluster.sh (fsync on, the defaults) in a temp
 * dir: member i listens for clients on basePort + 10*i and for peers on basePort + 10*i + 1.
 */
export async function startEtcd({ basePort = 23790 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sb-bench-etcd-"));
  const ids = [1, 2, 3];
  const peerUrl = (i) => `http://127.0.0.1:${basePort + 10 * i + 1}`;
  const clientUrl = (i) => `http://127.0.0.1:${basePort + 10 * i}`;
  const cluster = ids.map((i) => `e${i}=${peerUrl(i)}`).join(",");
  const t0 = performance.now();
  const nodes = ids.map((i) => {
    const proc = spawn("etcd", [
      "--name", `e${i}`, "--data-dir", join(dir, `e${i}`),
      "--listen-peer-urls", peerUrl(i), "--initial-advertise-peer-urls", peerUrl(i),
      "--listen-client-urls", clientUrl(i), "--advertise-client-urls", clientUrl(i),
      "--initial-cluster", cluster, "--initial-cluster-state", "new", "--log-level", "error",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    const rec = track(proc, i === 1 ? dir : undefined);
    return { id: i, url: clientUrl(i), proc, rec };
  });
  // Leader known = every member reports the same non-zero leader id.
  const leaderUrl = await waitFor(async () => {
    const st = await Promise.all(nodes.map((n) => getJson(`${n.url}/v3/maintenance/status`, { method: "POST", body: "{}" })));
    const lead = st[0].leader;
    if (!lead || lead === "0" || st.some((s) => s.leader !== lead)) return undefined;
    const k = st.findIndex((s) => s.header?.member_id === lead);
    return k >= 0 ? nodes[k].url : undefined;
  }, "an etcd leader");
  const electedMs = performance.now() - t0;
  return {
    name: "etcd",
    nodes,
    leaderUrl,
    electedMs,
    putUrl: `${leaderUrl}/v3/kv/put`,
    stop() { for (const n of nodes) try { n.proc.kill("SIGKILL"); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); },
  };
}

/** The command line of one StreamBus node on `runtime` (bun | deno | node). */
export function nodeCommand(runtime, flags) {
  const bin = (n) => join("node_modules", ".bin", n);
  // STREAMBUS_BENCH_BUN_FLAGS="--cpu-prof-md --cpu-prof-dir=/tmp/prof" profiles each node (written at exit).
  const bunFlags = (process.env.STREAMBUS_BENCH_BUN_FLAGS ?? "").split(" ").filter(Boolean);
  if (runtime === "bun") return [bin("bun"), [...bunFlags, "run", "runtimes/bun/node.ts", ...flags]];
  if (runtime === "deno") return [bin("deno"), ["run", "-A", "--quiet", "runtimes/deno/node.ts", ...flags]];
  if (runtime === "node") {
    if (!existsSync("dist/node.js")) {
      const r = spawnSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
      if (r.status !== 0) throw new Error("`node scripts/build.mjs` failed: cannot run the Node entry");
    }
    return [process.execPath, ["dist/node.js", ...flags]];
  }
  throw new Error(`unknown runtime ${runtime} (bun, deno or node)`);
}

/**
 * Spawns one StreamBus node; resolves `ready` with ms from spawn to its node.ready log line.
 * `lines` collects its stdout.
 */
export function spawnNode(runtime, { id, peers, dataDir, logLevel = "warn", extra = [] }) {
  // The load benchmarks run at warn, like etcd at --log-level error: per-request info lines (one JSON line
  // per broker registration) are left out of the measured path. node.ready needs info.
  const [cmd, args] = nodeCommand(runtime, ["--id", String(id), "--peers", peers, "--data-dir", dataDir, "--log-level", logLevel, ...extra]);
  const t0 = performance.now();
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  const rec = track(proc);
  let err = "";
  proc.stderr.on("data", (d) => { err += d; });
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });
  let buf = "";
  proc.stdout.on("data", (d) => {
    buf += d;
    if (buf.includes('"node.ready"')) readyResolve(performance.now() - t0);
    if (buf.length > 1 << 16) buf = buf.slice(-4096);
  });
  return { id, proc, rec, t0, ready, stderr: () => err };
}

/**
 * A 3-node StreamBus cluster on `runtime` with durable file storage in a temp dir. Resolves once a
 * leader is known to all three; `leaderPort` is the leader's admin port.
 */
export async function startStreamBus({ runtime = "bun", basePort = 19301, logLevel = "warn", extra = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "sb-bench-streambus-"));
  const ids = [1, 2, 3];
  const port = (i) => basePort + i - 1;
  const peers = ids.map((i) => `${i}=127.0.0.1:${port(i)}`).join(",");
  // A node left on these ports (an interrupted run) would answer /health below, and the benchmark would
  // measure it while the new nodes exit on the busy ports.
  for (const i of ids) {
    if (await listening(port(i))) {
      throw new Error(`port ${port(i)} is already in use: a node left by an interrupted run? (pkill -f runtimes/bun/node.ts)`);
    }
  }
  const t0 = performance.now();
  const nodes = ids.map((i) => ({ ...spawnNode(runtime, { id: i, peers, dataDir: join(dir, `n${i}`), logLevel, extra }), port: port(i) }));
  track({ on() {}, kill() {} }, dir);
  const leaderPort = await waitFor(async () => {
    for (const n of nodes) if (n.rec.exited) throw new Error(`StreamBus node ${n.id} exited: ${n.stderr().slice(0, 400)}`);
    const hs = await Promise.all(nodes.map((n) => getJson(`http://127.0.0.1:${n.port}/health`)));
    const lead = hs[0].leaderId;
    if (!lead || hs.some((h) => h.leaderId !== lead)) return undefined;
    return port(lead);
  }, `a StreamBus (${runtime}) leader`, 30_000);
  const electedMs = performance.now() - t0;
  return {
    name: "streambus",
    nodes,
    leaderPort,
    electedMs,
    putUrl: `http://127.0.0.1:${leaderPort}/v1/brokers`,
    stop() { for (const n of nodes) try { n.proc.kill("SIGKILL"); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); },
    /** Graceful stop (SIGTERM, so profilers write their output), then cleanup. */
    async stopGracefully(ms = 15_000) {
      await Promise.all(nodes.map((n) => new Promise((r) => {
        if (n.rec.exited) return r();
        n.proc.once("exit", r);
        n.proc.kill("SIGTERM");
        setTimeout(r, ms);
      })));
      this.stop();
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port) {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Runs the load generator as its own process (so it never shares an event loop with a system under test).
 * With `pids`, the result also has `server_cpu_us`: CPU microseconds those processes spent per ok write.
 */
export async function runLoad(mode, url, conc, secs, pids = [], client = "raw") {
  const before = pids.map(cpuSeconds);
  const r = await runLoadProcess(mode, url, conc, secs, client);
  if (pids.length && r.ok) {
    const used = pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - before[i], 0);
    r.server_cpu_us = Math.round((used * 1e6) / r.ok);
  }
  return r;
}

function runLoadProcess(mode, url, conc, secs, client) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join("scripts", "bench", "http-put-load.mjs"), mode, url, String(conc), String(secs), client], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => { out += d; });
    p.on("exit", (code) => {
      try { resolve(JSON.parse(out.trim().split("\n").pop())); } catch { reject(new Error(`load generator failed (exit ${code}): ${out}`)); }
    });
  });
}

/**
 * This script's `--name value` flags: returns `flag(name, dflt)`, the value after `name` or `dflt`.
 * `--help` prints `usage` and exits.
 */
export function cliFlags(usage) {
  const args = process.argv.slice(2);
  if (args.includes("--help")) {
    console.log(usage);
    process.exit(0);
  }
  return (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
  };
}

/**
 * The no-op server (scripts/bench/noop-server.ts, on Bun): resolves once it accepts requests. Its `putUrl`
 * takes the StreamBus load; `nodes` lets runLoad count its CPU.
 */
export async function startNoopServer({ port = 19399 } = {}) {
  const proc = spawn(join("node_modules", ".bin", "bun"), [join("scripts", "bench", "noop-server.ts"), String(port)], { stdio: ["ignore", "ignore", "inherit"] });
  track(proc);
  const putUrl = `http://127.0.0.1:${port}/v1/brokers`;
  await waitFor(async () => (await fetch(putUrl, { method: "POST", body: "{}" })).status === 201, "the no-op server", 10_000);
  return { name: "no-op", nodes: [{ proc }], putUrl, stop() { try { proc.kill("SIGKILL"); } catch { /* gone */ } } };
}

/** Spawns `cmd` with its output ignored, tracked so cleanupAll kills it. */
export function startProcess(cmd, argv) {
  const proc = spawn(cmd, argv, { stdio: "ignore" });
  track(proc);
  return proc;
}

/** SIGKILLs every child process in `procs` and resolves once all have exited. */
export function killAndWait(procs) {
  return Promise.all(procs.map((p) => new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once("exit", () => resolve());
    try { p.kill("SIGKILL"); } catch { /* gone */ }
  })));
}
