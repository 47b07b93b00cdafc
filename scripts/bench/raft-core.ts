/**
 * Raft core throughput: three in-memory RawNodes (no disk, no network), messages handed over directly.
 * Prints committed entries per second and entries per message at proposal batch sizes 1, 64 and 1,024,
 * and the time to replay a 1,000,000-entry log, beside the reference figures of issue 2.
 *
 *   npx bun scripts/bench/raft-core.ts [--seconds 2]
 */
import { defaultConfig } from "../../src/raft/config.ts";
import { RawNode } from "../../src/raft/raw-node.ts";
import type { Entry, Message, RaftConfig } from "../../src/raft/types.ts";
import { seededRandom } from "../../src/rng.ts";

const argSeconds = process.argv.indexOf("--seconds");
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 2;
const PEERS = [1, 2, 3].map((id) => ({ id, addr: `n${id}` }));

function config(id: number, over: Partial<RaftConfig>): RaftConfig {
  return { ...defaultConfig(), nodeId: id, peers: PEERS, ...over };
}

function cluster(over: Partial<RaftConfig>): RawNode[] {
  return [1, 2, 3].map((id) =>
    new RawNode({ config: config(id, over), initial: { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] }, random: seededRandom(id) })
  );
}

interface Counters {
  committed: number;
  messages: number;
  appMessages: number;
  appEntries: number;
}

const SNAP = new Uint8Array(8);
const lastSnapshot = new Map<RawNode, number>();

/**
 * One round: every node processes its Ready, then all messages are delivered. Like a real application,
 * each node snapshots every snapshotThreshold applied entries, which compacts its in-memory log.
 */
function round(nodes: RawNode[], c: Counters): void {
  const out: Message[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    if (!n.hasReady()) continue;
    const rd = n.ready();
    const msgs = rd.messages;
    for (let k = 0; k < msgs.length; k++) out.push(msgs[k]);
    if (i === 0) {
      const ce = rd.committedEntries;
      for (let k = 0; k < ce.length; k++) if (ce[k].data.length > 0 && ce[k].type === "normal") c.committed++;
    }
    n.advance(rd);
    const ce = rd.committedEntries;
    if (ce.length > 0) {
      const applied = ce[ce.length - 1].index;
      if (applied - (lastSnapshot.get(n) ?? 0) >= 8192) {
        n.createSnapshot(applied, SNAP);
        lastSnapshot.set(n, applied);
      }
    }
  }
  for (let k = 0; k < out.length; k++) {
    const m = out[k];
    c.messages++;
    if (m.type === "app") {
      c.appMessages++;
      c.appEntries += m.entries!.length;
    }
    nodes[m.to - 1].step(m);
  }
}

function throughput(batch: number, over: Partial<RaftConfig>): { perSec: number; c: Counters } {
  const nodes = cluster(over);
  const warm: Counters = { committed: 0, messages: 0, appMessages: 0, appEntries: 0 };
  nodes[0].campaign();
  for (let i = 0; i < 10; i++) round(nodes, warm);
  if (nodes[0].status().role !== "leader") throw new Error("node 1 did not become leader");
  const payload = new Uint8Array(16);
  const c: Counters = { committed: 0, messages: 0, appMessages: 0, appEntries: 0 };
  const leader = nodes[0];
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  let rounds = 0;
  while (true) {
    for (let i = 0; i < batch; i++) leader.propose(payload);
    round(nodes, c);
    if ((++rounds & 15) === 0 && performance.now() > deadline) break;
  }
  // Drain what is in flight so committed counts match proposals.
  for (let i = 0; i < 20; i++) round(nodes, c);
  const secs = (performance.now() - t0) / 1000;
  return { perSec: c.committed / secs, c };
}

function replay(n: number): { buildMs: number; constructMs: number; applyMs: number } {
  const tb = performance.now();
  const entries: Entry[] = new Array(n);
  const data = new Uint8Array(16);
  for (let i = 0; i < n; i++) entries[i] = { term: 1, index: i + 1, type: "normal", data };
  const buildMs = performance.now() - tb;
  const t0 = performance.now();
  const node = new RawNode({
    config: config(1, {}),
    initial: { hardState: { term: 1, vote: 1, commit: n }, entries },
    random: seededRandom(1),
  });
  const t1 = performance.now();
  const rd = node.ready();
  let sum = 0;
  for (const e of rd.committedEntries) sum += e.data.length + e.index; // stand-in for a trivial state machine
  node.advance(rd);
  const t2 = performance.now();
  if (node.status().applied !== n || sum === 0) throw new Error("replay did not apply every entry");
  return { buildMs, constructMs: t1 - t0, applyMs: t2 - t1 };
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const runtime = typeof Bun !== "undefined" ? `Bun ${Bun.version}` : `Node ${process.version}`;
console.log(`raft-core bench (${runtime}), three in-memory RawNodes, 16-byte entries, ${SECONDS}s per run`);
console.log("reference: etcd-raft ~85,000 ops/s (2015); goal: 500,000 committed entries/s with batching\n");
console.log("batch  maxAppendEntries  committed/s     entries/app-msg  entries/msg(all)");
for (const [batch, over] of [
  [1, {}],
  [64, {}],
  [1024, {}],
  [1024, { maxAppendEntries: 1024 }],
] as [number, Partial<RaftConfig>][]) {
  const { perSec, c } = throughput(batch, over);
  const mae = over.maxAppendEntries ?? defaultConfig().maxAppendEntries;
  console.log(
    `${String(batch).padStart(5)}  ${String(mae).padStart(16)}  ${fmt(perSec).padStart(11)}  ${(c.appEntries / c.appMessages).toFixed(1).padStart(15)}  ${(c.committed / c.messages).toFixed(2).padStart(16)}`,
  );
}
const r = replay(1_000_000);
console.log(
  `\nreplay of a 1,000,000-entry log: construct RawNode ${r.constructMs.toFixed(0)} ms + ready/apply/advance ${r.applyMs.toFixed(0)} ms = ${(r.constructMs + r.applyMs).toFixed(0)} ms (building the input array: ${r.buildMs.toFixed(0)} ms, not counted)`,
);
