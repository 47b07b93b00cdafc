import { describe, expect, test } from "bun:test";
import { RawNode } from "../../src/raft/raw-node.ts";
import type { Message } from "../../src/raft/types.ts";
import { seededRandom } from "../../src/rng.ts";
import { Cluster, code, enc, testConfig } from "./core-harness.ts";

describe("raft core: flow control and reports", () => {
  test("maxUncommittedSize pushes back with Unavailable until entries commit", () => {
    const c = new Cluster([1, 2, 3], { maxUncommittedSize: 100 });
    c.elect(1);
    c.isolate(2);
    c.isolate(3);
    c.node(1).propose(new Uint8Array(60));
    expect(code(() => c.node(1).propose(new Uint8Array(60)))).toBe("Unavailable");
    c.heal();
    c.tick(2);
    c.node(1).propose(new Uint8Array(60));
  });

  test("reportUnreachable drops a follower to probe; a failed snapshot report too", () => {
    const c = new Cluster([1, 2, 3], { compactionOverhead: 0 });
    c.elect(1);
    expect(c.node(1).status().progress!["2"].state).toBe("replicate");
    c.node(1).reportUnreachable(2);
    expect(c.node(1).status().progress!["2"].state).toBe("probe");
    c.isolate(3);
    c.propose(1, "a", "b");
    c.snapshot(1);
    c.node(1).reportUnreachable(3);
    c.propose(1, "c"); // the probe to 3 finds its next entries compacted: snapshot state
    expect(c.node(1).status().progress!["3"].state).toBe("snapshot");
    c.node(1).reportSnapshot(3, false);
    expect(c.node(1).status().progress!["3"].state).toBe("probe");
    c.heal();
    c.tick(3);
    expect(c.applied.get(3)).toEqual(["a", "b", "c"]);
  });
});

describe("raft core: commit gossip on election traffic", () => {
  test("a voter adopts the candidate's commit index when it holds the same entry", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.drop = (m) => m.type === "app" && m.to === 3 && (m.entries ?? []).length === 0; // commit-only updates lost
    c.propose(1, "a");
    const s3 = c.node(3).status();
    expect(s3.lastIndex).toBe(3);
    expect(s3.commit).toBe(2);
    const term = c.node(1).status().term;
    c.node(3).step({ type: "preVote", from: 2, to: 3, term: term + 1, logTerm: term, index: 3, commit: 3, commitTerm: term });
    expect(c.node(3).status().commit).toBe(3);
    // A commit claim for an entry this node does not hold (different term) is ignored.
    c.node(2).step({ type: "preVote", from: 3, to: 2, term: term + 1, logTerm: term, index: 3, commit: 3, commitTerm: term + 5 });
    expect(c.node(2).status().commit).toBe(3);
  });
});

describe("raft core: input checks", () => {
  const init = { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] };
  test("malformed or misaddressed messages throw Invalid and change nothing", () => {
    const n = new RawNode({ config: testConfig(1, [1, 2, 3]), initial: init, random: seededRandom(1) });
    const before = n.status();
    expect(code(() => n.step({ type: "nope", from: 2, to: 1, term: 1 } as unknown as Message))).toBe("Invalid");
    expect(code(() => n.step({ type: "app", from: 2, to: 1, term: -3 }))).toBe("Invalid");
    expect(code(() => n.step({ type: "app", from: 2, to: 7, term: 3 }))).toBe("Invalid");
    expect(code(() => n.step({ type: "app", from: 2, to: 1, term: 3, entries: "x" } as unknown as Message))).toBe("Invalid");
    expect(code(() => n.step({ type: "snap", from: 2, to: 1, term: 3 }))).toBe("Invalid");
    expect(code(() => n.step({ type: "app", from: 2, to: 1, term: 0, index: 0, logTerm: 0, entries: [] }))).toBe("Invalid");
    expect(n.status()).toEqual(before);
  });

  test("advance needs the Ready just returned; propose needs bytes", () => {
    const n = new RawNode({ config: testConfig(1, [1]), initial: init, random: seededRandom(1) });
    n.campaign();
    const rd = n.ready();
    expect(code(() => n.advance({ ...rd }))).toBe("Invalid");
    n.advance(rd);
    expect(code(() => n.advance(rd))).toBe("Invalid");
    expect(code(() => n.propose("text" as unknown as Uint8Array))).toBe("Invalid");
  });

  test("an inconsistent stored state is reported as Corrupt", () => {
    const e = (index: number) => ({ term: 1, index, type: "normal" as const, data: enc("x") });
    const mk = (entries: ReturnType<typeof e>[], commit: number) => () =>
      new RawNode({ config: testConfig(1, [1]), initial: { hardState: { term: 1, vote: 0, commit }, entries }, random: seededRandom(1) });
    expect(code(mk([e(1), e(3)], 1))).toBe("Corrupt");
    expect(code(mk([e(1), e(2)], 5))).toBe("Corrupt");
    expect(code(mk([e(1), e(2)], 2))).toBeUndefined();
  });

  test("a fresh cluster's first Ready persists the bootstrap entry and hard state", () => {
    const n = new RawNode({ config: testConfig(2, [1, 2, 3]), initial: init, random: seededRandom(1) });
    const rd = n.ready();
    expect(rd.entries.map((x) => [x.index, x.term, x.type])).toEqual([[1, 1, "confChange"]]);
    expect(rd.hardState).toEqual({ term: 1, vote: 0, commit: 1 });
    expect(rd.committedEntries.map((x) => x.index)).toEqual([1]);
    n.advance(rd);
    expect(n.status().conf.voters).toEqual([1, 2, 3]);
  });
});
