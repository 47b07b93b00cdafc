#!/usr/bin/env node
// `npm run bench:failover`: write unavailability after SIGKILL of the leader, StreamBus beside etcd.
// Each trial starts a fresh 3-node cluster on loopback (fsync on), runs one closed-loop writer that
// round-robins over the nodes on errors (as ../shared/bench/failover-probe.mjs does: 300 ms request timeout,
// skip to the next node on any error), SIGKILLs the leader once writes flow, and records the longest gap
// between consecutive acknowledged writes. Prints median and max per system over the trials.
//   node scripts/bench/failover.mjs [--trials 10] [--only streambus|etcd] [--runtime bun|deno|node]
// Systems: StreamBus with its defaults (election timeout 1500 ms, heartbeat 150 ms); etcd at the same
// timeouts (--election-timeout 1500 --heartbeat-interval 150); etcd with its defaults (1000 / 100).
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { cliFlags, etcdVersion, killAndWait, median, sleep, spawnNode, startProcess, waitFor } from "./bench-procs.mjs";

const flag = cliFlags("usage: node scripts/bench/failover.mjs [--trials 10] [--only streambus|etcd] [--runtime bun|deno|node]");
const trials = Number(flag("--trials", "10"));
const only = flag("--only", "");
const runtime = flag("--runtime", "bun");
if (!(trials >= 1)) {
  console.error("--trials must be a positive integer");
  process.exit(2);
}

const handedOut = new Set();
/** A free loopback port not handed out before in this run (the OS may reissue a just-closed one). */
async function freePort() {
  for (;;) {
    const p = await anyFreePort();
    if (!handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
}

function anyFreePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

async function killAll(nodes, dir) {
  await killAndWait(nodes.map((n) => n.proc));
  rmSync(dir, { recursive: true, force: true });
}

async function getJson(url, init) {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(1000) });
  return { status: r.status, body: await r.json() };
}

/** A fresh 3-node etcd cluster; resolves with its members, its leader and a stop(). */
async function etcdCluster(electionMs, heartbeatMs) {
  const dir = mkdtempSync(join(tmpdir(), "sb-failover-etcd-"));
  const ports = [];
  for (let i = 0; i < 6; i++) ports.push(await freePort());
  const peer = (i) => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const client = (i) => `http://127.0.0.1:${ports[2 * i]}`;
  const initial = [0, 1, 2].map((i) => `e${i + 1}=${peer(i)}`).join(",");
  const nodes = [0, 1, 2].map((i) => ({
    url: client(i),
    proc: startProcess("etcd", [
      "--name", `e${i + 1}`, "--data-dir", join(dir, `e${i + 1}`),
      "--listen-peer-urls", peer(i), "--initial-advertise-peer-urls", peer(i),
      "--listen-client-urls", client(i), "--advertise-client-urls", client(i),
      "--initial-cluster", initial, "--initial-cluster-state", "new", "--log-level", "error",
      "--election-timeout", String(electionMs), "--heartbeat-interval", String(heartbeatMs),
    ]),
  }));
  const leader = await waitFor(async () => {
    for (const n of nodes) if (n.proc.exitCode !== null) throw new Error(`etcd member exited with ${n.proc.exitCode}`);
    const st = await Promise.all(nodes.map((n) => getJson(`${n.url}/v3/maintenance/status`, { method: "POST", body: "{}" })));
    const lead = st[0].body.leader;
    if (!lead || lead === "0" || st.some((s) => s.body.leader !== lead)) return undefined;
    const k = st.findIndex((s) => s.body.header?.member_id === lead);
    return k >= 0 ? nodes[k] : undefined;
  }, "an etcd leader").catch(async (e) => {
    await killAll(nodes, dir);
    throw e;
  });
  return {
    urls: nodes.map((n) => `${n.url}/v3/kv/put`),
    leader: leader.proc,
    stop: () => killAll(nodes, dir),
  };
}

/** A fresh 3-node StreamBus cluster with its default Raft settings. */
async function streamBusCluster() {
  const dir = mkdtempSync(join(tmpdir(), "sb-failover-"));
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push(await freePort());
  const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(",");
  const nodes = ports.map((port, i) => {
    const { proc } = spawnNode(runtime, { id: i + 1, peers, dataDir: join(dir, `n${i + 1}`), logLevel: "warn" });
    return { id: i + 1, url: `http://127.0.0.1:${port}`, proc };
  });
  const leader = await waitFor(async () => {
    const hs = await Promise.all(nodes.map((n) => getJson(`${n.url}/health`)));
    const ids = new Set(hs.map((h) => h.body.leaderId));
    const id = hs[0].body.leaderId;
    if (ids.size !== 1 || !id) return undefined;
    const k = nodes.findIndex((n) => n.id === id);
    return hs[k]?.body.role === "leader" ? nodes[k] : undefined;
  }, "a StreamBus leader").catch(async (e) => {
    await killAll(nodes, dir);
    throw e;
  });
  return {
    urls: nodes.map((n) => `${n.url}/v1/brokers`),
    leader: leader.proc,
    stop: () => killAll(nodes, dir),
  };
}

async function post(url, body) {
  try {
    const r = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(300) });
    await r.arrayBuffer();
    return r.status < 300;
  } catch {
    return false;
  }
}

/**
 * One trial: writes flow for a second, the leader is SIGKILLed, and the writer goes on until writes have
 * flowed again for a second (or 20 s pass). Returns the longest gap between acknowledged writes, ms.
 */
async function trial(kind, cluster) {
  const etcd = kind === "etcd";
  let last = performance.now(), maxGap = 0, ok = 0, i = 0, seq = 0, killedAt = 0, firstAfterKill = 0;
  const deadline = performance.now() + 25_000;
  for (;;) {
    const now0 = performance.now();
    if (now0 > deadline) break;
    if (!killedAt && ok >= 50 && now0 - last < 50) {
      cluster.leader.kill("SIGKILL");
      killedAt = performance.now();
    }
    if (firstAfterKill && now0 - firstAfterKill > 1000) break;
    const u = cluster.urls[i % cluster.urls.length];
    const k = `k${seq++}`;
    const body = etcd
      ? JSON.stringify({ key: Buffer.from(k).toString("base64"), value: Buffer.from("v").toString("base64") })
      : JSON.stringify({ id: 1, host: "127.0.0.1", port: 1024 + (seq % 60000) });
    if (await post(u, body)) {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ok++;
      if (killedAt && !firstAfterKill) firstAfterKill = now;
    } else {
      i++;
      await sleep(10);
    }
  }
  if (!firstAfterKill) maxGap = Math.max(maxGap, performance.now() - last);
  return { gapMs: Math.round(maxGap), recovered: firstAfterKill > 0, ok };
}

/** Whole milliseconds, as the trials' gaps are. */
const medianMs = (xs) => Math.round(median(xs));

const version = only === "streambus" ? undefined : etcdVersion();
if (!version && only !== "streambus") {
  console.log("etcd is NOT installed (no `etcd` on PATH; Debian: apt-get install etcd-server): measuring StreamBus only.");
}
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}${version ? `, etcd ${version}` : ""}; ` +
  `StreamBus on ${runtime}; ${trials} trials; metric: longest gap between acknowledged writes around a SIGKILL of the leader`);

const systems = [];
if (only !== "etcd") systems.push({ name: "StreamBus (election 1500 ms, heartbeat 150 ms: defaults)", kind: "streambus", make: streamBusCluster });
if (version && only !== "streambus") {
  systems.push({ name: "etcd (election 1500 ms, heartbeat 150 ms: same as StreamBus)", kind: "etcd", make: () => etcdCluster(1500, 150) });
  systems.push({ name: "etcd (election 1000 ms, heartbeat 100 ms: etcd defaults)", kind: "etcd", make: () => etcdCluster(1000, 100) });
}
const results = new Map(systems.map((s) => [s.name, []]));
/** Starts a cluster; one retry with fresh ports if it does not form (a port taken by someone else meanwhile). */
async function make(s) {
  try {
    return await s.make();
  } catch (e) {
    console.log(`  (${s.kind} cluster did not form: ${e.message}; retrying once with new ports)`);
    return await s.make();
  }
}

for (let t = 1; t <= trials; t++) {
  // Alternate the systems trial by trial so machine noise hits them alike.
  for (const s of systems) {
    const cluster = await make(s);
    let r;
    try {
      r = await trial(s.kind, cluster);
    } finally {
      await cluster.stop();
    }
    results.get(s.name).push(r.gapMs);
    console.log(`  trial ${t} ${s.kind.padEnd(9)} ${s.name.includes("1000") ? "(defaults)" : "          "} gap ${String(r.gapMs).padStart(5)} ms${r.recovered ? "" : "  (writes did NOT resume within 25 s)"}`);
  }
}
console.log("");
for (const s of systems) {
  const xs = results.get(s.name);
  console.log(`${s.name.padEnd(64)} median ${String(medianMs(xs)).padStart(5)} ms   max ${String(Math.max(...xs)).padStart(5)} ms   (${xs.join(", ")})`);
}
const sb = results.get(systems[0]?.name);
const etcdSame = systems[1] ? results.get(systems[1].name) : undefined;
if (sb && systems[0].kind === "streambus") {
  const goalMedian = medianMs(sb) < 1000;
  const goalMax = etcdSame ? Math.max(...sb) <= Math.max(...etcdSame) : undefined;
  console.log(`goal: StreamBus median < 1000 ms: ${goalMedian ? "met" : "NOT met"}; max no worse than etcd's at equal timeouts: ` +
    `${goalMax === undefined ? `not measured (${only === "streambus" ? "etcd not run" : "etcd not installed"})` : goalMax ? "met" : "NOT met"}`);
}
process.exit(0);
