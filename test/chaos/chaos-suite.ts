/**
 * The fault suite with real processes (issue 6): three Bun node processes with `--fault-injection`;
 * concurrent clients register and re-register brokers, create topics and read both back over the admin
 * API of any node, while a seeded nemesis kills -9 and restarts nodes, pauses them (SIGSTOP/SIGCONT) and
 * cuts links (POST /debug/partition). Every client operation is recorded with its start, end and outcome;
 * afterwards the cluster is healed, final linearizable reads join the history, the history is checked for
 * linearizability, and every node must converge (stale reads) to the final state, so each acknowledged
 * write is on every node. Used by scripts/chaos.ts and test/chaos/chaos.test.ts.
 */
import { checkLinearizability, kvModel } from "../../src/testing/linearizability.ts";
import { type Random, seededRandom } from "../../src/rng.ts";
import { http, type NodeProc, ProcCluster, waitFor } from "../e2e/harness.ts";
import { createTopic, type OpRecorder, readBroker, readTopic, recorder, registerBroker } from "./chaos-history.ts";

export interface ChaosOptions {
  seconds: number;
  seed: number;
  clients?: number;
  /** Broker ids 1..brokers are re-registered by the clients. */
  brokers?: number;
  topics?: number;
  /** Client request deadline: past it the outcome is unknown. */
  opTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ChaosSummary {
  seed: number;
  seconds: number;
  operations: number;
  ok: number;
  failed: number;
  unknown: number;
  /** Topics created (201) and brokers registered (acknowledged) during the run. */
  topicsCreated: number;
  registrations: number;
  /** kill: single-node kill -9s, crashAll: whole-cluster kill -9s, partition: links cut. */
  faults: { kill: number; crashAll: number; pause: number; partition: number };
  faultsInjected: number;
  anomalies: number;
  /** Partitions the checker could not finish within its step budget (not proven either way). */
  unchecked: number;
  details: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEALTH_BROKER = 1000;

/** Runs the whole suite; resolves with the summary (throws only on harness failures). */
export async function runChaos(o: ChaosOptions): Promise<ChaosSummary> {
  const log = o.log ?? (() => {});
  const clients = o.clients ?? 4;
  const brokers = o.brokers ?? 5;
  const topics = o.topics ?? 150;
  const opTimeoutMs = o.opTimeoutMs ?? 2500;
  const rng = seededRandom(o.seed);
  const t0 = performance.now();
  const now = () => Math.round((performance.now() - t0) * 1000) / 1000;
  const cluster = await ProcCluster.create({
    runtimes: ["bun", "bun", "bun"],
    extraArgs: ["--fault-injection", "--snapshot-threshold", "400", "--snapshot-log-ratio", "0"],
  });
  const rec = recorder();
  const counts = { ok: 0, failed: 0, unknown: 0 };
  const faults = { kill: 0, crashAll: 0, pause: 0, partition: 0 };
  const details: string[] = [];
  try {
    await cluster.start();
    await cluster.leader();
    // One broker kept ALIVE by heartbeats, so topics (replication factor 1) can be placed.
    await waitFor(async () => (await http(cluster.nodes[0]!.port, "POST", "/v1/brokers", { id: HEALTH_BROKER, host: "health", port: 1 })).status < 300, "the health broker");
    let running = true;
    const heartbeater = (async () => {
      for (let i = 0; running; i++) {
        const n = cluster.nodes[i % 3]!;
        await http(n.port, "POST", `/v1/brokers/${HEALTH_BROKER}/heartbeat`, {}).catch(() => {});
        await sleep(1000);
      }
    })();
    const end = performance.now() + o.seconds * 1000;
    let nextPort = 0;
    const client = async (id: number, r: Random) => {
      while (performance.now() < end) {
        const node = cluster.nodes[r.int(3)]!;
        const dice = r.int(100);
        let res;
        if (dice < 35) res = await registerBroker(rec, now, id, node.port, 1 + r.int(brokers), 2000 + (nextPort++ % 63_000), opTimeoutMs);
        else if (dice < 60) res = await readBroker(rec, now, id, node.port, 1 + r.int(brokers), opTimeoutMs);
        else if (dice < 75) res = await createTopic(rec, now, id, node.port, `t${r.int(topics)}`, opTimeoutMs);
        else res = await readTopic(rec, now, id, node.port, `t${r.int(topics)}`, opTimeoutMs);
        counts[res]++;
        if (res !== "ok") await sleep(20);
      }
    };
    // Times match the history's (ms since the start), so a failure's ops can be lined up with the faults.
    const nemesis = runNemesis(cluster, rng.fork(), end, faults, (l) => log(`[${Math.round(now())} ms] ${l}`));
    await Promise.all([...Array.from({ length: clients }, (_, i) => client(i + 1, rng.fork())), nemesis]);
    running = false;
    await heartbeater;

    // Heal everything, then final linearizable reads of every key (part of the history).
    await healAll(cluster);
    const leader = await cluster.leader(30_000);
    await quiesce(cluster);
    for (let b = 1; b <= brokers; b++) await readUntilAnswered(() => readBroker(rec, now, 0, leader.port, b, 5000));
    for (let t = 0; t < topics; t++) await readUntilAnswered(() => readTopic(rec, now, 0, leader.port, `t${t}`, 5000));

    const result = checkLinearizability(kvModel, rec.ops, { maxSteps: 20_000_000 });
    for (const f of result.failures) details.push(f.description);
    let anomalies = result.failures.length;
    const unchecked = result.timedOut ? 1 : 0;

    // Convergence: every node's local (stale) state equals the final linearizable values.
    const expected = finalValues(rec, brokers, topics);
    for (const n of cluster.nodes) {
      const diff = await converged(n, expected).catch((e) => (e as Error).message);
      if (diff) {
        anomalies++;
        details.push(`node ${n.id} did not converge: ${diff}`);
      }
    }
    const faultsInjected = faults.kill + faults.crashAll + faults.pause + faults.partition;
    return {
      seed: o.seed, seconds: o.seconds, operations: counts.ok + counts.failed + counts.unknown, ...counts,
      topicsCreated: rec.ops.filter((op) => op.input.op === "cas" && op.output?.ok === true).length,
      registrations: rec.ops.filter((op) => op.input.op === "put" && op.output !== undefined).length,
      faults, faultsInjected, anomalies, unchecked, details,
    };
  } catch (e) {
    log(cluster.logs());
    throw e;
  } finally {
    await cluster.destroy();
  }
}

/**
 * Waits until every node applied the same index and it stays put for a second: writes whose client gave up
 * (unknown outcome) may still be in flight, and one landing after the final reads would look like a node
 * that did not converge.
 */
async function quiesce(cluster: ProcCluster): Promise<void> {
  let last = "";
  let stableSince = 0;
  await waitFor(async () => {
    const hs = await Promise.all(cluster.nodes.map((n) => http(n.port, "GET", "/health")));
    const applied = hs.map((h) => h.body?.appliedIndex);
    const key = applied.join(",");
    const same = hs.every((h) => h.status === 200) && applied.every((a) => a === applied[0]);
    if (!same || key !== last) {
      last = key;
      stableSince = performance.now();
      return false;
    }
    return performance.now() - stableSince > 1000;
  }, "every node to apply the same index, stable for 1 s", 30_000);
}

async function readUntilAnswered(read: () => Promise<string>): Promise<void> {
  await waitFor(async () => (await read()) === "ok", "a final linearizable read", 30_000);
}

/** The value of each key in the final reads (the last recorded read of each key). */
function finalValues(rec: OpRecorder, brokers: number, topics: number): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const op of rec.ops) if (op.clientId === 0 && op.input.op === "get") out.set(op.input.key, op.output?.value ?? null);
  for (let b = 1; b <= brokers; b++) if (!out.has(`b${b}`)) throw new Error(`no final read of broker ${b}`);
  for (let t = 0; t < topics; t++) if (!out.has(`tt${t}`)) throw new Error(`no final read of topic t${t}`);
  return out;
}

/** Polls node `n`'s stale reads until they match `expected`; returns "" or the last difference. */
async function converged(n: NodeProc, expected: Map<string, string | null>): Promise<string> {
  let diff = "";
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const b = await http(n.port, "GET", "/v1/brokers?consistency=stale");
    const t = await http(n.port, "GET", "/v1/topics?consistency=stale");
    if (b.status === 200 && t.status === 200) {
      const have = new Map<string, string | null>();
      for (const x of b.body.brokers as { id: number; port: number }[]) have.set(`b${x.id}`, String(x.port));
      for (const x of t.body.topics as { name: string }[]) have.set(`t${x.name}`, "1");
      diff = "";
      for (const [k, v] of expected) {
        if ((have.get(k) ?? null) !== v) diff += ` ${k}: expected ${v}, has ${have.get(k) ?? null};`;
      }
      if (!diff) return "";
    } else diff = ` stale reads answered ${b.status}/${t.status}`;
    await sleep(200);
  }
  return diff.trim();
}

/** Sends `block` to node `n`'s partition hook (best effort: a node that is down has no partition anyway). */
async function partition(n: NodeProc, block: number[]): Promise<boolean> {
  const r = await http(n.port, "POST", "/debug/partition", { block });
  return r.status === 200;
}

async function healAll(cluster: ProcCluster): Promise<void> {
  for (const n of cluster.nodes) {
    if (n.child && n.exitCode === undefined) n.child.kill("SIGCONT");
    else {
      n.lines.length = 0;
      n.start();
      await n.ready();
    }
  }
  for (const n of cluster.nodes) await waitFor(() => partition(n, []), `node ${n.id} to heal its links`, 20_000);
}

/** The node that calls itself leader (by /health), or undefined. */
async function currentLeader(cluster: ProcCluster): Promise<NodeProc | undefined> {
  for (const n of cluster.running()) {
    const h = await http(n.port, "GET", "/health");
    if (h.body?.role === "leader") return n;
  }
  return undefined;
}

/**
 * One fault at a time, chosen by the seeded random: kill -9 a node and restart it, pause it with SIGSTOP and
 * resume it, isolate one node, or cut one link; now and then kill -9 every node at once and restart them
 * all (acknowledged writes must survive a whole-cluster crash). Half the time the victim is the leader.
 * Each fault lasts 0.5-3 s; 0.3-1.5 s of calm in between.
 */
async function runNemesis(cluster: ProcCluster, r: Random, end: number, faults: ChaosSummary["faults"], log: (l: string) => void): Promise<void> {
  await sleep(500);
  while (performance.now() < end - 1000) {
    const pick = cluster.nodes[r.int(3)]!;
    const victim = r.chance(0.5) ? (await currentLeader(cluster)) ?? pick : pick;
    const hold = 500 + r.int(2500);
    const kind = r.chance(0.1) ? 4 : r.int(4);
    if (kind === 4) {
      faults.crashAll++;
      log(`nemesis: kill -9 every node, restart after ${hold} ms`);
      await Promise.all(cluster.nodes.map((n) => n.kill("SIGKILL")));
      await sleep(hold);
      for (const n of cluster.nodes) {
        n.lines.length = 0;
        n.start();
      }
      await Promise.all(cluster.nodes.map((n) => n.ready().catch((e) => log(`nemesis: restart of node ${n.id}: ${(e as Error).message}`))));
    } else if (kind === 0) {
      faults.kill++;
      log(`nemesis: kill -9 node ${victim.id}, restart after ${hold} ms`);
      await victim.kill("SIGKILL");
      await sleep(hold);
      victim.lines.length = 0; // so ready() waits for this incarnation's readiness line
      victim.start();
      await victim.ready().catch((e) => log(`nemesis: restart of node ${victim.id}: ${(e as Error).message}`));
    } else if (kind === 1) {
      faults.pause++;
      log(`nemesis: SIGSTOP node ${victim.id} for ${hold} ms`);
      victim.child!.kill("SIGSTOP");
      await sleep(hold);
      victim.child!.kill("SIGCONT");
    } else {
      const others = cluster.nodes.filter((n) => n !== victim);
      const cut = kind === 2 ? others : [others[r.int(2)]!];
      faults.partition++;
      log(`nemesis: cut node ${victim.id} from ${cut.map((n) => n.id).join(",")} for ${hold} ms`);
      await partition(victim, cut.map((n) => n.id));
      for (const n of cut) await partition(n, [victim.id]);
      await sleep(hold);
      for (const n of cluster.nodes) await partition(n, []);
    }
    await sleep(300 + r.int(1200));
  }
}
