/**
 * The MIT 6.5840 Raft lab's test harness (config.go) on the simulator: checkOneLeader, checkTerms,
 * checkNoLeader, one, nCommitted, start. Times are simulated milliseconds.
 */
import type { NodeId } from "../../raft/types.ts";
import { entryKey } from "./invariants.ts";
import type { SimCluster } from "./sim-cluster.ts";

const encoder = new TextEncoder();

/** The simulated election timeout (ms) of a cluster. */
export function electionMs(c: SimCluster): number {
  return c.node(c.ids()[0]!).config.electionTimeout;
}

/** Waits for exactly one leader among connected nodes (in the newest term); throws if none or two. */
export function checkOneLeader(c: SimCluster, withinMs = 20 * electionMs(c)): NodeId {
  const end = c.now + withinMs;
  while (c.now < end) {
    c.runFor(electionMs(c) / 2);
    const byTerm = new Map<number, NodeId[]>();
    for (const l of c.leaders()) {
      if (!c.isConnected(l.id)) continue;
      byTerm.set(l.term, [...(byTerm.get(l.term) ?? []), l.id]);
    }
    for (const [term, ids] of byTerm) if (ids.length > 1) throw new Error(`term ${term} has ${ids.length} leaders: ${ids}`);
    if (byTerm.size) return byTerm.get(Math.max(...byTerm.keys()))![0]!;
  }
  throw new Error("expected one leader, got none");
}

/** All connected nodes agree on the term; returns it. */
export function checkTerms(c: SimCluster): number {
  let term = -1;
  for (const id of c.ids()) {
    if (!c.isConnected(id)) continue;
    const t = c.node(id).raw!.status().term;
    if (term === -1) term = t;
    else if (t !== term) throw new Error(`servers disagree on term: ${term} vs ${t}`);
  }
  return term;
}

/** No connected node believes it leads. */
export function checkNoLeader(c: SimCluster): void {
  for (const l of c.leaders()) {
    if (c.isConnected(l.id)) throw new Error(`expected no leader among connected servers, but ${l.id} claims to be one`);
  }
}

/** How many nodes applied `index` (across restarts), and the entry applied there (entryKey form). */
export function nCommitted(c: SimCluster, index: number): { count: number; cmd: string | undefined } {
  let count = 0;
  for (const id of c.ids()) if (c.node(id).maxApplied >= index) count++;
  return { count, cmd: c.ledger.applied[index]?.key };
}

/** The entryKey form of a lab command. */
export function cmdKey(cmd: string): string {
  return entryKey({ term: 0, index: 0, type: "normal", data: encoder.encode(cmd) });
}

/**
 * Like the lab's Start(): proposes on `id` if it is an up leader, returning { index, term }, else undefined.
 * The command is an opaque string.
 */
export function start(c: SimCluster, id: NodeId, cmd: string): { index: number; term: number } | undefined {
  const node = c.node(id);
  if (!node.up) return undefined;
  // A Ready may be in flight; let it finish so the proposal sees the node's current state.
  c.runUntil(() => !node.busy || !node.up, 1000);
  if (!node.up) return undefined;
  const st = node.raw!.status();
  if (st.role !== "leader") return undefined;
  let out: { index: number; term: number } | undefined;
  c.input(node, () => {
    try {
      node.raw!.propose(encoder.encode(cmd));
      const after = node.raw!.status();
      out = { index: after.lastIndex, term: after.term };
    } catch {
      out = undefined;
    }
  });
  return out;
}

/**
 * The lab's one(): submits `cmd` to a leader and waits until at least `expected` nodes applied it.
 * With `retry`, resubmits after a failed attempt. Returns the index. Throws after 10 s (simulated).
 */
export function one(c: SimCluster, cmd: string, expected: number, retry = true): number {
  const end = c.now + 10_000;
  const want = cmdKey(cmd);
  let next = 0;
  while (c.now < end) {
    let index = -1;
    const ids = c.ids();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[(next + i) % ids.length]!;
      if (!c.isConnected(id)) continue;
      const r = start(c, id, cmd);
      if (r) {
        index = r.index;
        break;
      }
    }
    next++;
    if (index !== -1) {
      const until = c.now + 2000;
      while (c.now < until) {
        const nc = nCommitted(c, index);
        if (nc.count > 0 && nc.count >= expected && nc.cmd === want) return index;
        c.runFor(20);
      }
      if (!retry) throw new Error(`one(${cmd}) failed to reach agreement`);
    } else {
      c.runFor(50);
    }
  }
  throw new Error(`one(${cmd}) failed to reach agreement in 10s`);
}
