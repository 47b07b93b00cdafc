// The MIT 6.5840 Raft lab's scenarios (3A election, 3B agreement, 3C persistence, 3D snapshots) on the
// deterministic simulator. Every scenario also runs under the simulator's invariant checks after each
// event. A failing test names its seed.
import { describe, expect, test } from "bun:test";
import { checkNoLeader, checkOneLeader, checkTerms, electionMs, nCommitted, one, start } from "../../src/testing/sim/lab.ts";
import { SimCluster } from "../../src/testing/sim/sim-cluster.ts";
import { unreliableNetwork } from "../../src/testing/sim/sim-network.ts";
import type { NodeId } from "../../src/raft/types.ts";
import { seededRandom } from "../../src/rng.ts";

const SEED = 20261127;

/** Runs a scenario, naming the seed when it fails. */
function scenario(name: string, body: (seed: number) => void, seeds = [SEED]): void {
  test(name, () => {
    for (const seed of seeds) {
      try {
        body(seed);
      } catch (e) {
        console.log(`scenario "${name}" failed with seed ${seed}`);
        throw e;
      }
    }
  });
}

const others = (c: SimCluster, id: NodeId) => c.ids().filter((x) => x !== id);

describe("3A: leader election", () => {
  scenario("initial election", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    checkOneLeader(c);
    c.runFor(50);
    const term1 = checkTerms(c);
    expect(term1).toBeGreaterThanOrEqual(1);
    // With no failures, the term does not change.
    c.runFor(2 * electionMs(c));
    expect(checkTerms(c)).toBe(term1);
    checkOneLeader(c);
  }, [SEED, SEED + 1, SEED + 2]);

  scenario("re-election", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    const leader1 = checkOneLeader(c);
    c.disconnect(leader1);
    const leader2 = checkOneLeader(c);
    expect(leader2).not.toBe(leader1);
    // The old leader rejoins: it must not disturb the new one.
    c.connect(leader1);
    const leader3 = checkOneLeader(c);
    // No quorum: no leader.
    c.disconnect(leader3);
    c.disconnect(others(c, leader3)[0]!);
    c.runFor(2 * electionMs(c));
    checkNoLeader(c);
    c.connect(others(c, leader3)[0]!);
    checkOneLeader(c);
    c.connect(leader3);
    checkOneLeader(c);
  }, [SEED, SEED + 1, SEED + 2]);

  scenario("many elections", (seed) => {
    const c = new SimCluster({ seed, nodes: 7 });
    const r = seededRandom(seed);
    checkOneLeader(c);
    for (let iter = 0; iter < 10; iter++) {
      const cut = new Set<NodeId>();
      while (cut.size < 3) cut.add(1 + r.int(7));
      for (const id of cut) c.disconnect(id);
      checkOneLeader(c);
      for (const id of cut) c.connect(id);
    }
    checkOneLeader(c);
  });
});

describe("3B: log agreement", () => {
  scenario("basic agree", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    checkOneLeader(c);
    let last = 0;
    for (let i = 1; i <= 3; i++) {
      const idx = one(c, `basic-${i}`, 3, false);
      if (last) expect(idx).toBe(last + 1);
      last = idx;
    }
  });

  scenario("fail agree", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    one(c, "101", 3);
    const leader = checkOneLeader(c);
    const f = others(c, leader)[0]!;
    c.disconnect(f);
    for (const x of ["102", "103", "104"]) one(c, x, 2);
    c.runFor(2 * electionMs(c));
    one(c, "105", 2);
    c.connect(f);
    one(c, "106", 3);
    c.runFor(2 * electionMs(c));
    one(c, "107", 3);
  });

  scenario("fail no agree", (seed) => {
    const c = new SimCluster({ seed, nodes: 5 });
    one(c, "10", 5);
    const leader = checkOneLeader(c);
    for (const f of others(c, leader).slice(0, 3)) c.disconnect(f);
    const r = start(c, leader, "20");
    expect(r).toBeDefined();
    c.runFor(2 * electionMs(c));
    expect(nCommitted(c, r!.index).count).toBe(0);
    for (const id of c.ids()) c.connect(id);
    const leader2 = checkOneLeader(c);
    expect(start(c, leader2, "30")).toBeDefined();
    one(c, "1000", 5);
  });

  scenario("concurrent starts", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    const leader = checkOneLeader(c);
    const t0 = c.node(leader).raw!.status().term;
    const idx: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = start(c, leader, `concurrent-${i}`);
      expect(r).toBeDefined();
      expect(r!.term).toBe(t0);
      idx.push(r!.index);
    }
    expect(new Set(idx).size).toBe(5);
    expect(c.runUntil(() => idx.every((i) => nCommitted(c, i).count === 3), 10 * electionMs(c))).toBe(true);
    const cmds = idx.map((i) => nCommitted(c, i).cmd);
    for (let i = 0; i < 5; i++) expect(cmds).toContain(`normal:concurrent-${i}`);
  });

  scenario("rejoin of a partitioned leader", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    one(c, "101", 3);
    const leader1 = checkOneLeader(c);
    c.disconnect(leader1);
    // The old leader takes entries it can never commit.
    for (const x of ["102", "103", "104"]) start(c, leader1, x);
    one(c, "103", 2);
    const leader2 = checkOneLeader(c);
    c.disconnect(leader2);
    c.connect(leader1);
    one(c, "104", 2);
    c.connect(leader2);
    one(c, "105", 3);
  });

  scenario("backup: leader backs up quickly over incorrect follower logs", (seed) => {
    const c = new SimCluster({ seed, nodes: 5 });
    one(c, "start", 5);
    const leader1 = checkOneLeader(c);
    const [a, b, d, e] = others(c, leader1) as [NodeId, NodeId, NodeId, NodeId];
    // Leader and one follower in a minority: 50 entries that never commit.
    for (const id of [b, d, e]) c.disconnect(id);
    for (let i = 0; i < 50; i++) start(c, leader1, `lost1-${i}`);
    c.runFor(electionMs(c) / 2);
    c.disconnect(leader1);
    c.disconnect(a);
    // The other three commit 50.
    for (const id of [b, d, e]) c.connect(id);
    for (let i = 0; i < 50; i++) one(c, `ok1-${i}`, 3);
    // Their leader and one more take 50 uncommitted entries.
    const leader2 = checkOneLeader(c);
    const other = [b, d, e].find((x) => x !== leader2)!;
    c.disconnect(other);
    for (let i = 0; i < 50; i++) start(c, leader2, `lost2-${i}`);
    c.runFor(electionMs(c) / 2);
    // The first pair comes back with the third: they must commit over the stale logs.
    for (const id of c.ids()) c.disconnect(id);
    for (const id of [leader1, a, other]) c.connect(id);
    for (let i = 0; i < 50; i++) one(c, `ok2-${i}`, 3);
    for (const id of c.ids()) c.connect(id);
    one(c, "end", 5);
  });

  scenario("count: messages per election and per entry stay bounded", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    checkOneLeader(c);
    const election = c.messagesSent();
    expect(election).toBeLessThan(60);
    // Agreement on 10 entries, proposed together.
    const leader = checkOneLeader(c);
    const before = c.messagesSent();
    const idx: number[] = [];
    for (let i = 0; i < 10; i++) idx.push(start(c, leader, `count-${i}`)!.index);
    expect(c.runUntil(() => idx.every((i) => nCommitted(c, i).count === 3), 5 * electionMs(c))).toBe(true);
    const t = c.now;
    const perAgreement = c.messagesSent() - before;
    // Requests and responses to 2 followers, plus heartbeats in the time it took.
    const heartbeats = (ms: number) => Math.ceil(ms / c.node(leader).config.heartbeatInterval + 1) * 2 * 2;
    expect(perAgreement).toBeLessThanOrEqual((10 + 3) * 2 * 2 + heartbeats(c.now - t + 200));
    // Idle: only heartbeats.
    const idle0 = c.messagesSent();
    c.runFor(1000);
    expect(c.messagesSent() - idle0).toBeLessThanOrEqual(heartbeats(1000) * 1.2);
  });
});

describe("3C: persistence", () => {
  scenario("persist1: crash and restart everyone, then the leader", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    one(c, "11", 3);
    for (const id of c.ids()) c.crash(id);
    for (const id of c.ids()) c.restart(id);
    one(c, "12", 3);
    const leader1 = checkOneLeader(c);
    c.restart(leader1);
    one(c, "13", 3);
    const leader2 = checkOneLeader(c);
    c.crash(leader2);
    one(c, "14", 2);
    c.restart(leader2);
    // Wait for the restarted node to catch up.
    const i4 = one(c, "15", 3);
    expect(nCommitted(c, i4).count).toBe(3);
  });

  scenario("persist2: repeated follower crashes and disconnects", (seed) => {
    const c = new SimCluster({ seed, nodes: 5 });
    let index = 1;
    for (let iters = 0; iters < 5; iters++) {
      one(c, `p2-${index++}`, 5);
      const leader1 = checkOneLeader(c);
      const [f1, f2] = others(c, leader1) as [NodeId, NodeId];
      c.crash(f1);
      c.crash(f2);
      one(c, `p2-${index++}`, 3);
      const [f3, f4, f5] = c.ids().filter((x) => c.node(x).up) as [NodeId, NodeId, NodeId];
      c.crash(f3);
      c.crash(f4);
      c.crash(f5);
      c.restart(f1);
      c.restart(f2);
      c.runFor(electionMs(c));
      c.restart(f3);
      one(c, `p2-${index++}`, 3);
      c.restart(f4);
      c.restart(f5);
    }
    one(c, "p2-final", 5);
  });

  scenario("persist3: partitioned leader and one peer crash, leader restarts", (seed) => {
    const c = new SimCluster({ seed, nodes: 3 });
    one(c, "101", 3);
    const leader = checkOneLeader(c);
    const [a, b] = others(c, leader) as [NodeId, NodeId];
    c.disconnect(b);
    one(c, "102", 2);
    c.crash(leader);
    c.crash(a);
    c.connect(b);
    c.restart(leader);
    one(c, "103", 2);
    c.restart(a);
    one(c, "104", 3);
  });

  const figure8 = (unreliable: boolean) => (seed: number) => {
    const c = new SimCluster({ seed, nodes: 5, network: unreliable ? unreliableNetwork : undefined });
    const r = seededRandom(seed);
    one(c, "f8-start", 1);
    let up = 5;
    for (let iter = 0; iter < (unreliable ? 150 : 100); iter++) {
      let leader: NodeId | undefined;
      for (const id of c.ids()) {
        if (unreliable ? !c.isConnected(id) : !c.node(id).up) continue;
        if (start(c, id, `f8-${iter}-${r.int(1_000_000)}`)) leader = id;
      }
      c.runFor(r.chance(0.1) ? r.int(electionMs(c) * 5) : r.int(13));
      if (leader !== undefined && (unreliable ? r.chance(0.5) : true)) {
        if (unreliable) c.disconnect(leader);
        else c.crash(leader);
        up--;
      }
      if (up < 3) {
        const down = c.ids().filter((id) => (unreliable ? !c.isConnected(id) : !c.node(id).up));
        const s = down[r.int(down.length)]!;
        if (unreliable) c.connect(s);
        else c.restart(s);
        up++;
      }
    }
    c.net.options = { ...c.net.options, dropRate: 0, duplicateRate: 0, reorderRate: 0 };
    for (const id of c.ids()) {
      if (!c.node(id).up) c.restart(id);
      c.connect(id);
    }
    one(c, "f8-end", 5);
  };
  scenario("figure 8 (reliable)", figure8(false), [SEED, SEED + 1]);
  scenario("figure 8 (unreliable)", figure8(true), [SEED, SEED + 1]);

  const churn = (unreliable: boolean) => (seed: number) => {
    const c = new SimCluster({ seed, nodes: 5, network: unreliable ? unreliableNetwork : undefined });
    const r = seededRandom(seed);
    let n = 0;
    for (let iter = 0; iter < 60; iter++) {
      // Clients try every server.
      for (const id of c.ids()) if (c.isConnected(id)) start(c, id, `churn-${n++}`);
      if (r.chance(0.2)) c.disconnect(1 + r.int(5));
      if (r.chance(0.5)) {
        const i = 1 + r.int(5);
        if (!c.node(i).up) c.restart(i);
        c.connect(i);
      }
      if (r.chance(0.2)) {
        const i = 1 + r.int(5);
        if (c.node(i).up) c.crash(i);
      }
      c.runFor(r.int(electionMs(c) * 0.7));
    }
    c.net.options = { ...c.net.options, dropRate: 0, duplicateRate: 0, reorderRate: 0 };
    for (const id of c.ids()) {
      if (!c.node(id).up) c.restart(id);
      c.connect(id);
    }
    const last = one(c, "churn-end", 5);
    // Everything applied anywhere is the same everywhere (checked per event); and everyone caught up.
    expect(nCommitted(c, last).count).toBe(5);
  };
  scenario("reliable churn", churn(false));
  scenario("unreliable churn", churn(true));
});

describe("3D: snapshots", () => {
  const snapCluster = (seed: number, unreliable = false) =>
    new SimCluster({ seed, nodes: 3, snapshotEvery: 9, network: unreliable ? unreliableNetwork : undefined });

  scenario("snapshot basic", (seed) => {
    const c = snapCluster(seed);
    for (let i = 0; i < 40; i++) one(c, `sb-${i}`, 3);
    for (const id of c.ids()) {
      const d = c.node(id).disk.durable;
      expect(d.snapshot).toBeDefined();
      // Compaction: the durable log stays small.
      expect(d.entries.length).toBeLessThan(30);
    }
  });

  const install = (mode: "disconnect" | "crash", unreliable: boolean) => (seed: number) => {
    const c = snapCluster(seed, unreliable);
    one(c, "si-0", 3);
    for (let round = 0; round < 4; round++) {
      const leader = checkOneLeader(c);
      const victim = others(c, leader)[round % 2]!;
      if (mode === "disconnect") c.disconnect(victim);
      else c.crash(victim);
      for (let i = 0; i < 25; i++) one(c, `si-${round}-${i}`, 2);
      if (mode === "disconnect") c.connect(victim);
      else c.restart(victim);
      const idx = one(c, `si-${round}-end`, 3);
      expect(c.node(victim).maxApplied).toBeGreaterThanOrEqual(idx);
    }
    // The laggards must have caught up through a snapshot, not the (compacted) log.
    const snaps = c.ids().map((id) => c.node(id).disk.durable.snapshot?.meta.index ?? 0);
    expect(Math.min(...snaps)).toBeGreaterThan(0);
  };
  scenario("snapshot install", install("disconnect", false));
  scenario("snapshot install unreliable", install("disconnect", true));
  scenario("snapshot install crash", install("crash", false));
  scenario("snapshot install unreliable crash", install("crash", true));

  scenario("snapshot all crash", (seed) => {
    const c = snapCluster(seed);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 12; i++) one(c, `ac-${round}-${i}`, 3);
      const before = Math.max(...c.ids().map((id) => c.node(id).applied));
      for (const id of c.ids()) c.crash(id);
      for (const id of c.ids()) c.restart(id);
      const idx = one(c, `ac-${round}-end`, 3);
      expect(idx).toBeGreaterThan(before);
    }
  });

  scenario("snapshot init: restart from a snapshot restores the state machine", (seed) => {
    const c = snapCluster(seed);
    for (let i = 0; i < 30; i++) one(c, `si-${i}`, 3);
    for (const id of c.ids()) c.crash(id);
    for (const id of c.ids()) c.restart(id);
    // The restarted nodes start from their snapshots and re-apply the rest.
    for (const id of c.ids()) {
      const snap = c.node(id).disk.durable.snapshot;
      expect(snap).toBeDefined();
      expect(c.node(id).applied).toBeGreaterThanOrEqual(snap!.meta.index);
    }
    one(c, "si-after-1", 3);
    for (const id of c.ids()) c.crash(id);
    for (const id of c.ids()) c.restart(id);
    one(c, "si-after-2", 3);
  });
});
