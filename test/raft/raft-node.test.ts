import { afterEach, describe, expect, test } from "bun:test";
import { isStreamBusError, StreamBusError } from "../../src/errors.ts";
import type { StateMachine } from "../../src/raft/types.ts";
import { RaftNode } from "../../src/raft/raft-node.ts";
import { seededRandom } from "../../src/rng.ts";
import { MemoryStorage } from "../../src/testing/memory-storage.ts";
import { MemoryNetwork } from "../../src/testing/memory-transport.ts";
import { TestCluster, testConfig } from "../../src/testing/raft-cluster.ts";
import { CountFsm } from "./count-fsm.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Appends strings; apply returns the new length; "boom" fails deterministically. */
class ListFsm implements StateMachine {
  items: string[] = [];
  restores = 0;
  /** Each applied entry's `decoded` argument, as [item, decoded]. */
  decodedArgs: [string, unknown][] = [];
  apply(data: Uint8Array, _index: number, _resultWanted?: boolean, decoded?: unknown): unknown {
    const s = dec(data);
    this.decodedArgs.push([s, decoded]);
    if (s === "boom") throw new StreamBusError("Invalid", "boom is not allowed");
    this.items.push(s);
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return enc(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(dec(data));
    this.restores++;
  }
}

/** Replay another run with RAFT_NODE_SEED=n; a failure prints the seed. */
const SEED = Number(process.env.RAFT_NODE_SEED ?? 1);

let cluster: TestCluster<ListFsm> | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function threeNodes(config = {}) {
  cluster = new TestCluster({ size: 3, fsm: () => new ListFsm(), config, seed: SEED });
  await cluster.start();
  const leader = await cluster.waitForLeader();
  return { c: cluster, leader };
}

async function expectCode(p: Promise<unknown>, ...codes: string[]): Promise<StreamBusError> {
  try {
    await p;
  } catch (e) {
    if (!isStreamBusError(e)) throw e;
    expect(codes).toContain(e.code);
    return e;
  }
  throw new Error(`expected a StreamBusError ${codes.join("/")}, but it resolved`);
}

describe(`RaftNode (seed ${SEED})`, () => {
  test("three nodes elect exactly one leader that all follow, and listeners hear it", async () => {
    cluster = new TestCluster({ size: 3, fsm: () => new ListFsm(), seed: SEED });
    const heard: (number | undefined)[] = [];
    await cluster.start();
    cluster.member(2).node.onLeaderChange((l) => heard.push(l));
    const leader = await cluster.waitForLeader();
    const leaders = cluster.running().filter((m) => m.node.isLeader());
    expect(leaders.map((m) => m.id)).toEqual([leader.id]);
    for (const m of cluster.running()) expect(m.node.leaderId()).toBe(leader.id);
    expect(heard.at(-1)).toBe(leader.id);
    expect(leader.node.metrics().leaderChanges).toBeGreaterThanOrEqual(1);
    expect(leader.node.status().role).toBe("leader");
  });

  test("propose on the leader resolves with the FSM result; every node applies the entry", async () => {
    const { c, leader } = await threeNodes();
    const r1 = await c.settle(leader.node.propose(enc("a")));
    const r2 = await c.settle(leader.node.propose(enc("b")));
    expect(r1.result).toBe(1);
    expect(r2.result).toBe(2);
    expect(r2.index).toBe(r1.index + 1);
    await c.until(() => c.running().every((m) => m.fsm.items.length === 2), "all nodes applied");
    for (const m of c.running()) expect(m.fsm.items).toEqual(["a", "b"]);
    expect(leader.node.metrics().proposals).toBe(2);
    expect(leader.node.metrics().commitLatency.count).toBe(2);
  });

  test("propose on a follower is forwarded and resolves with the result applied on that follower", async () => {
    const { c, leader } = await threeNodes();
    const follower = c.running().find((m) => m.id !== leader.id)!;
    const results = await c.settle(Promise.all([
      follower.node.propose(enc("x")),
      follower.node.propose(enc("y")),
      leader.node.propose(enc("z")),
    ]));
    expect(results.map((r) => r.result).sort()).toEqual([1, 2, 3]);
    // Resolved means applied on the follower itself.
    expect(follower.fsm.items).toContain("x");
    expect(follower.fsm.items).toContain("y");
    await c.until(() => c.running().every((m) => m.fsm.items.length === 3));
    expect(new Set(c.running().map((m) => m.fsm.items.join()))).toHaveProperty("size", 1);
  });

  test("the proposer's own apply gets ProposeOptions.decoded; every other node applies from the bytes alone", async () => {
    const { c, leader } = await threeNodes();
    const follower = c.running().find((m) => m.id !== leader.id)!;
    await c.settle(Promise.all([
      follower.node.propose(enc("x"), { decoded: "x, decoded" }),
      leader.node.propose(enc("z"), { decoded: "z, decoded" }),
      leader.node.propose(enc("plain")),
    ]));
    await c.until(() => c.running().every((m) => m.fsm.items.length === 3));
    for (const m of c.running()) {
      const seen = Object.fromEntries(m.fsm.decodedArgs);
      expect(seen).toEqual({
        x: m.id === follower.id ? "x, decoded" : undefined,
        z: m.id === leader.id ? "z, decoded" : undefined,
        plain: undefined,
      });
    }
  });

  test("an FSM error rejects the proposer's promise and the log moves on", async () => {
    const { c, leader } = await threeNodes();
    const e = await expectCode(c.settle(leader.node.propose(enc("boom"))), "Invalid");
    expect(e.message).toContain("boom");
    const ok = await c.settle(leader.node.propose(enc("fine")));
    expect(ok.result).toBe(1);
  });

  test("many proposals issued at once are all applied in one order (group commit)", async () => {
    const { c, leader } = await threeNodes();
    const ps = Array.from({ length: 100 }, (_, i) => leader.node.propose(enc(`v${i}`)));
    const rs = await c.settle(Promise.all(ps));
    expect(rs.map((r) => r.result)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await c.until(() => c.running().every((m) => m.fsm.items.length === 100));
    // Far fewer persists than proposals: the batch shares fsyncs.
    expect(leader.node.metrics().appendLatency.count).toBeLessThan(100);
  });

  test("readBarrier on a follower resolves only after the follower applied every acknowledged write", async () => {
    const { c, leader } = await threeNodes();
    const follower = c.running().find((m) => m.id !== leader.id)!;
    // Hold the follower's disk so it falls behind while the other two commit.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const append = follower.storage.append.bind(follower.storage);
    follower.storage.append = async (entries) => {
      await gate;
      return append(entries);
    };
    for (let i = 0; i < 5; i++) await c.settle(leader.node.propose(enc(`w${i}`)));
    expect(follower.fsm.items.length).toBe(0);
    let seenAtResolve = -1;
    const barrier = follower.node.readBarrier({ timeoutMs: 60_000 }).then(() => (seenAtResolve = follower.fsm.items.length));
    await c.clock.advanceAsync(200);
    expect(seenAtResolve).toBe(-1);
    open();
    await c.settle(barrier);
    expect(seenAtResolve).toBe(5);
    expect(follower.fsm.items).toEqual(["w0", "w1", "w2", "w3", "w4"]);
    await c.settle(leader.node.readBarrier());
    expect(follower.node.metrics().readBarriers).toBe(1);
  });

  test("an isolated leader's pending proposal fails clearly; the majority elects a new leader and goes on", async () => {
    const { c, leader } = await threeNodes();
    await c.settle(leader.node.propose(enc("before")));
    c.network.isolate(leader.id);
    const pending = leader.node.propose(enc("lost"), { timeoutMs: 1000 });
    const others = c.running().filter((m) => m.id !== leader.id).map((m) => m.id);
    const newLeader = await c.waitForLeader(others);
    expect(newLeader.id).not.toBe(leader.id);
    await expectCode(c.settle(pending), "Timeout", "NoLeader", "Unavailable");
    const r = await c.settle(newLeader.node.propose(enc("after")));
    expect(r.result).toBe(2);
    c.network.heal();
    await c.until(() => leader.node.leaderId() === newLeader.id && leader.fsm.items.length === 2, "old leader rejoins");
    for (const m of c.running()) expect(m.fsm.items).toEqual(["before", "after"]);
  });

  test("a stopped leader fails its pending proposals with Unavailable; the others elect a new leader", async () => {
    const { c, leader } = await threeNodes();
    const pending = leader.node.propose(enc("x"));
    const stopping = c.stopNode(leader.id);
    await expectCode(pending, "Unavailable");
    await stopping;
    await expectCode(leader.node.propose(enc("y")), "Unavailable");
    const next = await c.waitForLeader();
    expect(next.id).not.toBe(leader.id);
    await c.settle(next.node.propose(enc("z")));
  });

  test("a restarted cluster restores its state from storage before any new election", async () => {
    const { c, leader } = await threeNodes();
    for (const s of ["a", "b", "c"]) await c.settle(leader.node.propose(enc(s)));
    await c.until(() => c.running().every((m) => m.fsm.items.length === 3));
    const terms = c.running().map((m) => m.node.term);
    await c.stopAll();
    for (const id of [1, 2, 3]) await c.startNode(id);
    // Replayed from the log at start, with no ticks yet.
    for (const m of c.running()) expect(m.fsm.items).toEqual(["a", "b", "c"]);
    const l2 = await c.waitForLeader();
    expect(l2.node.term).toBeGreaterThan(Math.max(...terms));
    const r = await c.settle(l2.node.propose(enc("d")));
    expect(r.result).toBe(4);
  });

  test("snapshots compact the log and a lagging node catches up from one", async () => {
    const { c, leader } = await threeNodes({ snapshotThreshold: 10, snapshotLogRatio: 0, compactionOverhead: 2 });
    const lagging = c.running().find((m) => m.id !== leader.id)!;
    await c.stopNode(lagging.id);
    for (let i = 0; i < 40; i++) await c.settle(leader.node.propose(enc(`e${i}`)));
    expect(leader.node.metrics().snapshotsTaken).toBeGreaterThanOrEqual(3);
    expect(await leader.storage.firstIndex()).toBeGreaterThan(20);
    expect((await leader.storage.snapshot())?.meta.index).toBeGreaterThan(20);
    const back = await c.startNode(lagging.id);
    await c.until(() => back.fsm.items.length === 40, "the lagging node catches up");
    expect(back.fsm.items).toEqual(Array.from({ length: 40 }, (_, i) => `e${i}`));
    expect(back.fsm.restores).toBeGreaterThanOrEqual(1);
    expect(back.node.metrics().snapshotsInstalled).toBeGreaterThanOrEqual(1);
    // A node restarted after its own snapshot restores from it, then replays the rest.
    const again = await c.restartNode(leader.id);
    expect(again.fsm.items.length).toBe(40);
    expect(again.fsm.restores).toBe(1);
  });

  test("snapshotLogRatio spaces snapshots of a growing state by log bytes; a small state still snapshots every threshold", async () => {
    const item = (i: number) => enc(`${String(i).padStart(4, "0")}${"x".repeat(96)}`);
    const snapshotsAfter = async (ratio: number) => {
      const { c, leader } = await threeNodes({ snapshotThreshold: 10, snapshotLogRatio: ratio, compactionOverhead: 2 });
      for (let i = 0; i < 100; i++) await c.settle(leader.node.propose(item(i)));
      const n = leader.node.metrics().snapshotsTaken;
      await c.stopAll();
      return n;
    };
    // Every item grows the list's snapshot by about what it adds to the log, so each snapshot waits for a
    // log twice the size of the last: at about 10, 30 and 85 entries instead of every 10.
    expect(await snapshotsAfter(0)).toBe(10);
    const spaced = await snapshotsAfter(2);
    expect(spaced).toBeGreaterThanOrEqual(2);
    expect(spaced).toBeLessThanOrEqual(4);

    const counting = new TestCluster({ size: 3, fsm: () => new CountFsm(), config: { snapshotThreshold: 10, snapshotLogRatio: 4 }, seed: SEED });
    await counting.start();
    try {
      const l = await counting.waitForLeader();
      for (let i = 0; i < 100; i++) await counting.settle(l.node.propose(item(i)));
      expect(l.node.metrics().snapshotsTaken).toBe(10); // a few bytes of state: the count decides
    } finally {
      await counting.stopAll();
    }
  });

  test("addVoter brings a new node in; removeNode takes one out; the cluster keeps committing", async () => {
    const { c, leader } = await threeNodes();
    await c.settle(leader.node.propose(enc("one")));
    const peers4 = [...c.peers, { id: 4, addr: "mem-4" }];
    await c.settle(leader.node.addVoter(4, "mem-4"));
    expect(leader.node.status().conf.voters).toContain(4);
    const n4 = await c.startNode(4, peers4, undefined, { join: true });
    await c.until(() => n4.fsm.items.length === 1, "node 4 catches up");
    const r = await c.settle(n4.node.propose(enc("from-4")));
    expect(r.result).toBe(2);
    // Remove a follower other than 4, then stop it: 3 voters remain and still commit.
    const victim = c.running().find((m) => m.id !== leader.id && m.id !== 4)!;
    await c.settle(leader.node.removeNode(victim.id));
    expect(leader.node.status().conf.voters).not.toContain(victim.id);
    await c.stopNode(victim.id);
    await c.settle(leader.node.propose(enc("three")));
    await c.until(() => n4.fsm.items.length === 3);
    // Adding an existing voter again resolves at once (idempotent).
    await c.settle(leader.node.addVoter(4, "mem-4"));
  });

  test("addLearner: a learner receives the log but does not vote", async () => {
    const { c, leader } = await threeNodes();
    await c.settle(leader.node.addLearner(4, "mem-4"));
    const n4 = await c.startNode(4, [...c.peers, { id: 4, addr: "mem-4" }], undefined, { join: true });
    await c.settle(leader.node.propose(enc("l")));
    await c.until(() => n4.fsm.items.length === 1, "the learner applies");
    expect(leader.node.status().conf.learners).toEqual([4]);
    expect(leader.node.status().conf.voters).not.toContain(4);
  });

  test("transferLeadership moves the leader", async () => {
    const { c, leader } = await threeNodes();
    await c.settle(leader.node.propose(enc("x")));
    const target = c.running().find((m) => m.id !== leader.id)!;
    await c.settle(leader.node.transferLeadership(target.id));
    await c.until(() => target.node.isLeader());
    await c.settle(target.node.propose(enc("y")));
  });

  test("callLeader runs the leader's handler from any node; errors come back typed", async () => {
    const { c, leader } = await threeNodes();
    for (const m of c.running()) {
      m.node.handle("whoami", (body, ctx) => ({ served: m.id, from: ctx.from, echo: body }));
      m.node.handle("fail", () => {
        throw new StreamBusError("Conflict", "version mismatch", { expected: 3 });
      });
      m.node.handle("write", async (body) => (await m.node.propose(enc(String(body)))).result);
    }
    const follower = c.running().find((m) => m.id !== leader.id)!;
    const viaFollower = await c.settle(follower.node.callLeader("whoami", { bytes: new Uint8Array([1, 2]), n: 7 }));
    expect(viaFollower).toEqual({ served: leader.id, from: follower.id, echo: { bytes: new Uint8Array([1, 2]), n: 7 } });
    const local = await c.settle(leader.node.callLeader("whoami", "hi"));
    expect(local).toEqual({ served: leader.id, from: leader.id, echo: "hi" });
    const e = await expectCode(c.settle(follower.node.callLeader("fail", null)), "Conflict");
    expect(e.message).toBe("version mismatch");
    expect(e.details.expected).toBe(3);
    await expectCode(c.settle(follower.node.callLeader("nope", null)), "NotFound");
    expect(await c.settle(follower.node.callLeader("write", "forwarded"))).toBe(1);
    // A direct call to a follower that is not leader, marked leader-only, names the leader.
    const other = c.running().find((m) => m.id !== leader.id && m.id !== follower.id)!;
    expect(await c.settle(follower.node.call(other.id, "whoami", 1))).toMatchObject({ served: other.id });
    await expectCode(follower.node.call(99, "whoami", 1), "Unavailable");
  });

  test("an RPC to a node that does not answer times out", async () => {
    const { c, leader } = await threeNodes();
    const follower = c.running().find((m) => m.id !== leader.id)!;
    c.network.cut(follower.id, leader.id);
    await expectCode(c.settle(follower.node.call(leader.id, "whoami", 1, { timeoutMs: 200 })), "Timeout");
  });

  test("without a quorum: NoLeader at once for propose, readBarrier and callLeader", async () => {
    const { c, leader } = await threeNodes();
    const survivor = leader;
    for (const m of c.running()) if (m.id !== survivor.id) await c.stopNode(m.id);
    // CheckQuorum: the lone leader steps down within an election timeout or two.
    await c.until(() => survivor.node.leaderId() === undefined, "the leader steps down");
    await expectCode(survivor.node.propose(enc("x")), "NoLeader");
    await expectCode(survivor.node.readBarrier(), "NoLeader");
    await expectCode(survivor.node.callLeader("whoami", 1), "NoLeader");
    expect(survivor.node.metrics().proposalsFailed).toBeGreaterThanOrEqual(1);
  });

  test("with 20% of frames lost, proposals from every node still commit in one order", async () => {
    const { c } = await threeNodes();
    c.network.dropRandomly(0.2, seededRandom(SEED));
    for (let i = 0; i < 9; i++) {
      // A lost forward times out (outcome unknown): the client proposes again, so duplicates are allowed.
      for (let attempt = 0; ; attempt++) {
        const m = c.member(((i + attempt) % 3) + 1);
        try {
          await c.settle(m.node.propose(enc(`p${i}`), { timeoutMs: 1000 }));
          break;
        } catch (e) {
          if (!isStreamBusError(e, "Timeout", "NoLeader") || attempt >= 10) throw e;
        }
      }
    }
    c.network.heal();
    await c.until(() => new Set(c.running().map((m) => m.fsm.items.join())).size === 1, "every node applied the same log");
    for (let i = 0; i < 9; i++) expect(c.member(1).fsm.items).toContain(`p${i}`);
  });

  test("malformed frames are dropped and counted; the node keeps working", async () => {
    const { c, leader } = await threeNodes();
    const rogue = c.network.transport();
    await rogue.start({ id: 9, addr: "mem-9" }, c.peers, () => {});
    const garbage = [
      new Uint8Array(0),
      new Uint8Array([1]),
      new Uint8Array([1, 0xff, 0x00, 0x13]),
      new Uint8Array([2, 0xa0]),
      new Uint8Array([3, 0x01]),
      new Uint8Array([77, 1, 2, 3]),
    ];
    for (const g of garbage) rogue.send(leader.id, g);
    await c.settle(leader.node.propose(enc("still fine")));
    expect(leader.node.metrics().malformedFrames).toBeGreaterThanOrEqual(garbage.length);
    await rogue.stop();
  });

  test("start validates the config; a node cannot be started twice", async () => {
    cluster = new TestCluster({ size: 3, fsm: () => new ListFsm(), config: { heartbeatInterval: 100 } });
    await expectCode(cluster.startNode(1), "Invalid");
    cluster.member(1).running = false;
    const ok = new TestCluster({ size: 1, fsm: () => new ListFsm() });
    await ok.start();
    await expectCode(ok.member(1).node.start(), "Invalid");
    const l = await ok.waitForLeader();
    expect((await ok.settle(l.node.propose(enc("solo")))).result).toBe(1);
    await ok.stopAll();
  });

  test("stop() does not hang on a storage write that never finishes", async () => {
    const { c, leader } = await threeNodes();
    leader.storage.append = () => new Promise<void>(() => {});
    const p = leader.node.propose(enc("stuck"));
    const stopped = leader.node.stop().then(() => true);
    leader.running = false;
    await expectCode(p, "Unavailable");
    expect(await c.settle(stopped)).toBe(true);
  });
});

describe("RaftNode lifecycle", () => {
  test("stop() during start() wins: start fails with Unavailable and nothing keeps running", async () => {
    const net = new MemoryNetwork();
    const peers = [{ id: 1, addr: "mem-1" }];
    const node = new RaftNode(testConfig(1, peers), new ListFsm(), { storage: new MemoryStorage(), transport: net.transport() });
    const starting = node.start();
    await node.stop();
    await expectCode(starting, "Unavailable");
    expect(node.status().running).toBe(false);
    await expectCode(node.propose(enc("x")), "Unavailable");
  });
});

describe("RaftNode on the real clock", () => {
  test("three nodes with default clock and randomness elect, commit and stop", async () => {
    const net = new MemoryNetwork();
    const peers = [1, 2, 3].map((id) => ({ id, addr: `mem-${id}` }));
    const fsms = peers.map(() => new ListFsm());
    const nodes = peers.map((p, i) =>
      new RaftNode(testConfig(p.id, peers), fsms[i]!, { storage: new MemoryStorage(), transport: net.transport() })
    );
    try {
      await Promise.all(nodes.map((n) => n.start()));
      const deadline = performance.now() + 10_000;
      let leader: RaftNode | undefined;
      while (!(leader = nodes.find((n) => n.isLeader()))) {
        if (performance.now() > deadline) throw new Error("no leader within 10 s of real time");
        await new Promise((r) => setTimeout(r, 5));
      }
      const follower = nodes.find((n) => n !== leader)!;
      const r = await follower.propose(enc("real"));
      expect(r.result).toBe(1);
      await follower.readBarrier();
      expect(fsms[nodes.indexOf(follower)]!.items).toEqual(["real"]);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});
