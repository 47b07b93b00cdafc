// Known Raft pitfalls, replayed on the simulator: stale messages that must not truncate or roll back
// a log, a disruptive rejoining node, and membership change edge cases.
import { describe, expect, test } from "bun:test";
import { isStreamBusError } from "../../src/errors.ts";
import { checkOneLeader, electionMs, nCommitted, one, start } from "../../src/testing/sim/lab.ts";
import { SimCluster, simConfig } from "../../src/testing/sim/sim-cluster.ts";
import type { ConfChange, Entry, Message, NodeId } from "../../src/raft/types.ts";
import { RawNode } from "../../src/raft/raw-node.ts";
import { defaultConfig } from "../../src/raft/config.ts";
import { seededRandom } from "../../src/rng.ts";

const SEED = 424242;
const others = (c: SimCluster, id: NodeId) => c.ids().filter((x) => x !== id);

/** Proposes a conf change on the leader once it is not persisting, retrying while it is busy. */
function changeConf(c: SimCluster, cc: ConfChange): void {
  const leader = checkOneLeader(c);
  c.runUntil(() => !c.node(leader).busy, 1000);
  c.proposeConfChange(leader, cc);
}

function waitConf(c: SimCluster, id: NodeId, pred: (voters: NodeId[], learners: NodeId[]) => boolean): void {
  const ok = c.runUntil(() => {
    const n = c.node(id);
    if (!n.up) return false;
    const conf = n.raw!.status().conf;
    return pred([...conf.voters].sort(), [...conf.learners].sort()) && conf.votersOutgoing.length === 0;
  }, 40 * electionMs(c));
  if (!ok) throw new Error(`node ${id}: configuration not reached; now ${JSON.stringify(c.node(id).raw?.status().conf)}`);
}

/** A follower RawNode of a 3-node cluster, driven by hand. */
function follower(): RawNode {
  const config = { ...defaultConfig(), ...simConfig, nodeId: 2, peers: [1, 2, 3].map((id) => ({ id, addr: `n${id}:0` })) };
  return new RawNode({ config, initial: { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] }, random: seededRandom(1) });
}
const ent = (index: number, term: number, text: string): Entry => ({ index, term, type: "normal", data: new TextEncoder().encode(text) });
const drain = (n: RawNode) => {
  const written: Entry[] = [];
  while (n.hasReady()) {
    const rd = n.ready();
    written.push(...rd.entries);
    n.advance(rd);
  }
  return written;
};

describe("stale messages", () => {
  // A fresh node bootstraps its configuration as entry 1 (term 1, committed); the tests append after it.
  test("truncation only on a real conflict: a stale prefix append keeps the uncommitted tail", () => {
    const n = follower();
    drain(n);
    n.step({ type: "app", from: 1, to: 2, term: 1, index: 1, logTerm: 1, entries: [ent(2, 1, "a"), ent(3, 1, "b"), ent(4, 1, "c")], commit: 1 });
    expect(drain(n).map((e) => e.index)).toEqual([2, 3, 4]);
    // A delayed, shorter copy of an earlier append: everything in it matches, so nothing may be cut.
    n.step({ type: "app", from: 1, to: 2, term: 1, index: 1, logTerm: 1, entries: [ent(2, 1, "a")], commit: 1 });
    expect(drain(n)).toEqual([]);
    expect(n.status().lastIndex).toBe(4);
    // A real conflict (same index, newer term) does truncate from there.
    n.step({ type: "app", from: 3, to: 2, term: 2, index: 2, logTerm: 1, entries: [ent(3, 2, "x")], commit: 1 });
    expect(drain(n).map((e) => [e.index, e.term])).toEqual([[3, 2]]);
    expect(n.status().lastIndex).toBe(3);
  });

  test("an append from an older term changes nothing", () => {
    const n = follower();
    drain(n);
    n.step({ type: "app", from: 1, to: 2, term: 2, index: 1, logTerm: 1, entries: [ent(2, 2, "a")], commit: 1 });
    drain(n);
    n.step({ type: "app", from: 3, to: 2, term: 1, index: 1, logTerm: 1, entries: [ent(2, 1, "old"), ent(3, 1, "old")], commit: 1 });
    expect(drain(n)).toEqual([]);
    expect(n.status().term).toBe(2);
    expect(n.status().lastIndex).toBe(2);
    expect(n.status().lead).toBe(1);
  });

  test("replayed old AppendEntries in a running cluster do not truncate a follower", () => {
    const c = new SimCluster({ seed: SEED, nodes: 3 });
    const leader = checkOneLeader(c);
    const f = others(c, leader)[0]!;
    const captured: Message[] = [];
    c.onSend = (m) => {
      if (m.type === "app" && m.to === f && m.entries?.length) captured.push(m);
    };
    for (let i = 0; i < 10; i++) one(c, `t-${i}`, 3);
    c.onSend = undefined;
    expect(captured.length).toBeGreaterThan(1);
    const last = c.node(f).mirror.lastIndex();
    const term = c.node(f).raw!.status().term;
    for (const m of captured.slice(0, 3)) c.deliver(m);
    c.runFor(electionMs(c));
    expect(c.node(f).mirror.lastIndex()).toBeGreaterThanOrEqual(last);
    expect(c.node(f).raw!.status().term).toBe(term);
    one(c, "after", 3);
  });

  test("AppendEntries from an older term is rejected after a newer leader", () => {
    const c = new SimCluster({ seed: SEED + 1, nodes: 3 });
    const leader1 = checkOneLeader(c);
    const old: Message[] = [];
    c.onSend = (m) => {
      if (m.type === "app" && m.from === leader1) old.push(m);
    };
    one(c, "a", 3);
    c.onSend = undefined;
    c.disconnect(leader1);
    const leader2 = checkOneLeader(c);
    for (let i = 0; i < 5; i++) one(c, `b-${i}`, 2);
    c.connect(leader1);
    one(c, "c", 3);
    const snapshotOf = (id: NodeId) => ({ last: c.node(id).mirror.lastIndex(), term: c.node(id).raw!.status().term });
    const before = c.ids().map(snapshotOf);
    for (const m of old) if (m.to !== leader1) c.deliver(m);
    c.runFor(electionMs(c));
    const after = c.ids().map(snapshotOf);
    for (let i = 0; i < before.length; i++) {
      expect(after[i]!.last).toBeGreaterThanOrEqual(before[i]!.last);
      expect(after[i]!.term).toBe(before[i]!.term);
    }
    expect(checkOneLeader(c)).toBe(leader2);
  });

  test("a stale InstallSnapshot after a newer one is ignored", () => {
    const c = new SimCluster({ seed: SEED + 2, nodes: 3, snapshotEvery: 5 });
    one(c, "s-0", 3);
    const leader = checkOneLeader(c);
    const f = others(c, leader)[0]!;
    c.disconnect(f);
    for (let i = 0; i < 20; i++) one(c, `s-${i}`, 2);
    const snaps: Message[] = [];
    c.onSend = (m) => {
      if (m.type === "snap" && m.to === f) snaps.push(m);
    };
    c.connect(f);
    one(c, "s-joined", 3);
    c.onSend = undefined;
    expect(snaps.length).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) one(c, `s-more-${i}`, 3);
    const applied = c.node(f).applied;
    const last = c.node(f).mirror.lastIndex();
    // Replays every captured chunk: the simulator fails the run if the node persists or applies an older snapshot.
    for (const m of snaps) c.deliver(m);
    c.runFor(electionMs(c));
    expect(c.node(f).applied).toBeGreaterThanOrEqual(applied);
    expect(c.node(f).mirror.lastIndex()).toBeGreaterThanOrEqual(last);
    one(c, "s-end", 3);
  });
});

describe("disruptive nodes vs PreVote + CheckQuorum", () => {
  test("a node rejoining after a long partition does not depose the leader", () => {
    const c = new SimCluster({ seed: SEED + 3, nodes: 3 });
    const leader = checkOneLeader(c);
    const term = c.node(leader).raw!.status().term;
    const f = others(c, leader)[0]!;
    c.disconnect(f);
    c.runFor(30 * electionMs(c));
    // PreVote: the isolated node never wins a pre-vote, so its term does not grow.
    expect(c.node(f).raw!.status().term).toBe(term);
    c.connect(f);
    c.runFor(10 * electionMs(c));
    expect(checkOneLeader(c)).toBe(leader);
    expect(c.node(leader).raw!.status().term).toBe(term);
    one(c, "x", 3);
  });

  test("a partially connected node (cut from the leader only) does not depose it", () => {
    const c = new SimCluster({ seed: SEED + 4, nodes: 3 });
    const leader = checkOneLeader(c);
    const term = c.node(leader).raw!.status().term;
    const f = others(c, leader)[0]!;
    c.net.cutLink(leader, f);
    c.net.cutLink(f, leader);
    c.runFor(30 * electionMs(c));
    expect(c.leaders().map((l) => l.id)).toEqual([leader]);
    expect(c.node(leader).raw!.status().term).toBe(term);
    one(c, "y", 2);
  });

  test("a leader without a quorum steps down (CheckQuorum)", () => {
    const c = new SimCluster({ seed: SEED + 5, nodes: 3 });
    const leader = checkOneLeader(c);
    for (const o of others(c, leader)) c.disconnect(o);
    c.runFor(4 * electionMs(c));
    expect(c.node(leader).raw!.status().role).not.toBe("leader");
  });
});

describe("membership changes", () => {
  test("a learner catches up without voting, then is promoted", () => {
    const c = new SimCluster({ seed: SEED + 6, nodes: 3 });
    for (let i = 0; i < 10; i++) one(c, `m-${i}`, 3);
    c.addServer(4, false);
    changeConf(c, { changes: [{ type: "addLearner", nodeId: 4, addr: "sim-4:0" }] });
    const leader = checkOneLeader(c);
    waitConf(c, leader, (v, l) => v.length === 3 && l.includes(4));
    const idx = one(c, "m-learner", 4);
    expect(nCommitted(c, idx).count).toBe(4);
    // The learner does not count towards the quorum: with two voters gone nothing commits.
    const [a, b] = others(c, leader).filter((x) => x !== 4) as [NodeId, NodeId];
    c.disconnect(a);
    c.disconnect(b);
    const r = start(c, leader, "m-no-quorum");
    c.runFor(electionMs(c) / 2);
    if (r) expect(nCommitted(c, r.index).cmd === "normal:m-no-quorum" && nCommitted(c, r.index).count > 0).toBe(false);
    c.connect(a);
    c.connect(b);
    changeConf(c, { changes: [{ type: "addVoter", nodeId: 4, addr: "sim-4:0" }] });
    waitConf(c, checkOneLeader(c), (v) => v.join() === "1,2,3,4");
    one(c, "m-promoted", 4);
  });

  test("only one change in flight", () => {
    const c = new SimCluster({ seed: SEED + 7, nodes: 3 });
    one(c, "x", 3);
    c.addServer(4, false);
    c.addServer(5, false);
    const leader = checkOneLeader(c);
    c.runUntil(() => !c.node(leader).busy, 1000);
    c.proposeConfChange(leader, { changes: [{ type: "addLearner", nodeId: 4 }] });
    let err: unknown;
    try {
      // Straight to the core: the first change's Ready may still be persisting.
      c.node(leader).raw!.proposeConfChange({ changes: [{ type: "addLearner", nodeId: 5 }] });
    } catch (e) {
      err = e;
    }
    expect(isStreamBusError(err, "Conflict")).toBe(true);
    waitConf(c, leader, (_, l) => l.includes(4));
    changeConf(c, { changes: [{ type: "addLearner", nodeId: 5 }] });
    waitConf(c, checkOneLeader(c), (_, l) => l.join() === "4,5");
  });

  test("removing the leader: it steps down and the rest elect a new one", () => {
    const c = new SimCluster({ seed: SEED + 8, nodes: 3 });
    one(c, "r-0", 3);
    const leader = checkOneLeader(c);
    changeConf(c, { changes: [{ type: "removeNode", nodeId: leader }] });
    const rest = others(c, leader);
    const ok = c.runUntil(() => c.leaders().some((l) => rest.includes(l.id)), 40 * electionMs(c));
    expect(ok).toBe(true);
    const newLeader = c.leaders().find((l) => rest.includes(l.id))!.id;
    waitConf(c, newLeader, (v) => v.join() === rest.join());
    c.runFor(5 * electionMs(c));
    expect(c.node(leader).raw!.status().role).not.toBe("leader");
    // The remaining two commit on their own, even with the removed node gone.
    c.crash(leader);
    one(c, "r-1", 2);
  });

  test("joint consensus: add one voter and remove another at once", () => {
    const c = new SimCluster({ seed: SEED + 9, nodes: 3 });
    one(c, "j-0", 3);
    c.addServer(4, false);
    const leader = checkOneLeader(c);
    const victim = others(c, leader)[0]!;
    changeConf(c, { changes: [{ type: "addVoter", nodeId: 4 }, { type: "removeNode", nodeId: victim }] });
    const want = [...c.ids().filter((x) => x !== victim)].sort().join();
    waitConf(c, leader, (v) => v.join() === want);
    c.crash(victim);
    one(c, "j-1", 3);
  });

  test("removing a follower, then the cluster keeps committing with the smaller quorum", () => {
    const c = new SimCluster({ seed: SEED + 10, nodes: 5 });
    one(c, "f-0", 5);
    const leader = checkOneLeader(c);
    const [x, y] = others(c, leader) as [NodeId, NodeId];
    changeConf(c, { changes: [{ type: "removeNode", nodeId: x }] });
    waitConf(c, leader, (v) => v.length === 4);
    c.crash(x);
    changeConf(c, { changes: [{ type: "removeNode", nodeId: y }] });
    waitConf(c, checkOneLeader(c), (v) => v.length === 3);
    c.crash(y);
    one(c, "f-1", 3);
  });
});
