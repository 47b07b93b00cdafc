import { describe, expect, test } from "bun:test";
import { RawNode } from "../../src/raft/raw-node.ts";
import { seededRandom } from "../../src/rng.ts";
import { Cluster, enc, testConfig } from "./core-harness.ts";

describe("raft core: election", () => {
  test("three nodes elect exactly one leader by ticking, and the leader commits its no-op", () => {
    const c = new Cluster([1, 2, 3]);
    c.tick(25);
    const leaders = [...c.nodes.values()].filter((n) => n.status().role === "leader");
    expect(leaders.length).toBe(1);
    const lead = leaders[0].id;
    for (const n of c.nodes.values()) {
      const s = n.status();
      expect(s.lead).toBe(lead);
      expect(s.term).toBe(leaders[0].status().term);
      expect(s.commit).toBe(2); // the bootstrap entry and the leader's no-op
    }
  });

  test("randomized election timeout lies in [T, 2T) and varies with the seed", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const node = new RawNode({
        config: testConfig(1, [1]),
        initial: { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] },
        random: seededRandom(seed),
      });
      let ticks = 0;
      while (node.status().role !== "leader" && ticks < 100) {
        node.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  test("a candidate with a shorter log is refused", () => {
    const c = new Cluster([1, 2, 3]);
    expect(c.elect(1)).toBe(1);
    c.isolate(3);
    c.propose(1, "a", "b");
    c.heal();
    // Node 3 missed the entries: even after a timeout it cannot win, the others refuse.
    c.node(3).campaign();
    c.pump();
    expect(c.node(3).status().role).not.toBe("leader");
    expect(c.leader()).not.toBe(3);
  });

  test("PreVote: an isolated node does not inflate its term, and rejoining does not disturb the leader", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const term = c.node(1).status().term;
    c.isolate(3);
    c.tick(100, [3]);
    expect(c.node(3).status().term).toBe(term);
    expect(c.node(3).status().role).toBe("preCandidate");
    c.heal();
    c.tick(3);
    expect(c.leader()).toBe(1);
    expect(c.node(1).status().term).toBe(term);
    expect(c.node(3).status().lead).toBe(1);
  });

  test("without PreVote the isolated node's term grows; CheckQuorum lease makes followers ignore it", () => {
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: true });
    c.elect(1);
    const term = c.node(1).status().term;
    c.isolate(3);
    c.tick(60, [3]);
    expect(c.node(3).status().term).toBeGreaterThan(term + 2);
    // Its vote requests reach followers that heard from the leader recently: ignored.
    c.heal();
    c.drop = (m) => m.from === 1 && m.to === 3; // node 3 cannot hear the leader (partial partition)
    c.node(3).campaign();
    c.pump();
    expect(c.node(2).status().term).toBe(term);
    expect(c.node(1).status().role).toBe("leader");
  });

  test("a vote with the transfer flag bypasses the lease", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const term = c.node(1).status().term;
    c.node(2).step({ type: "vote", from: 3, to: 2, term: term + 1, logTerm: term, index: c.node(2).status().lastIndex, transfer: true });
    const rd = c.node(2).ready();
    expect(rd.messages.find((m) => m.type === "voteResp")?.reject).toBe(false);
    expect(rd.hardState?.vote).toBe(3);
    // The vote is released in the same Ready as the hard state that records it.
    c.node(2).advance(rd);
  });

  test("CheckQuorum: a leader cut off from its quorum steps down after an election timeout", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    c.tick(9, [1]);
    expect(c.node(1).status().role).toBe("leader");
    c.tick(12, [1]);
    expect(c.node(1).status().role).toBe("follower");
    expect(c.node(1).status().lead).toBe(0);
  });

  test("the remaining majority elects a new leader and the old one follows after healing", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    c.tick(40);
    const l = c.leader()!;
    expect(l === 2 || l === 3).toBe(true);
    c.heal();
    c.tick(5);
    expect(c.node(1).status().lead).toBe(l);
    c.propose(l, "x");
    for (const id of [1, 2, 3]) expect(c.applied.get(id)).toEqual(["x"]);
  });

  test("hard state is persisted and restored: restart keeps term, vote and log", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a", "b", "c");
    const before = c.node(2).status();
    c.restart(2);
    c.pump();
    const after = c.node(2).status();
    expect(after.term).toBe(before.term);
    expect(after.lastIndex).toBe(before.lastIndex);
    expect(c.applied.get(2)).toEqual(["a", "b", "c"]);
    c.propose(1, "d");
    expect(c.applied.get(2)).toEqual(["a", "b", "c", "d"]);
  });

  test("votes and appends are only released in the Ready carrying the state they depend on", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.node(1).propose(enc("p"));
    const rd1 = c.node(1).ready();
    const app = rd1.messages.filter((m) => m.type === "app" && m.entries!.length > 0);
    expect(app.length).toBe(2);
    expect(rd1.entries.map((e) => e.index)).toEqual([3]);
    c.node(1).advance(rd1);
    c.node(2).step(app.find((m) => m.to === 2)!);
    expect(c.node(2).hasReady()).toBe(true);
    const rd2 = c.node(2).ready();
    expect(rd2.entries.map((e) => e.index)).toEqual([3]);
    expect(rd2.messages.some((m) => m.type === "appResp" && m.index === 3)).toBe(true);
    expect(() => c.node(2).ready()).toThrow(); // one outstanding Ready at a time
    c.node(2).advance(rd2);
  });
});
