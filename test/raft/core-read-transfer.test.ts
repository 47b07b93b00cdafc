import { describe, expect, test } from "bun:test";
import { Cluster, code, dec, enc } from "./core-harness.ts";

describe("raft core: ReadIndex", () => {
  test("the leader answers only after a heartbeat round confirms its leadership", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a");
    c.node(1).readIndex(enc("r1"));
    const rd = c.node(1).ready();
    expect(rd.readStates).toEqual([]);
    const beats = rd.messages.filter((m) => m.type === "heartbeat");
    expect(beats.length).toBe(2);
    expect(beats.every((m) => m.context !== undefined)).toBe(true);
    c.node(1).advance(rd);
    c.deliver(rd.messages);
    c.pump();
    expect(c.reads.get(1)!.map((r) => [r.index, dec(r.context)])).toEqual([[3, "r1"]]);
  });

  test("a leader cut off from its quorum never answers", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    c.node(1).readIndex(enc("r"));
    c.pump();
    c.tick(3, [1]);
    expect(c.reads.get(1)).toEqual([]);
  });

  test("a follower's read is forwarded to the leader and answered with the leader's commit index", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a", "b");
    c.node(3).readIndex(enc("f"));
    c.pump();
    expect(c.reads.get(3)!.map((r) => [r.index, dec(r.context)])).toEqual([[4, "f"]]);
    expect(code(() => new Cluster([1, 2, 3]).node(2).readIndex(enc("x")))).toBe("NoLeader");
  });

  test("a single-node leader answers at once", () => {
    const c = new Cluster([1]);
    c.elect(1);
    c.node(1).readIndex(enc("s"));
    const rd = c.node(1).ready();
    expect(rd.readStates.map((r) => r.index)).toEqual([2]);
    c.node(1).advance(rd);
  });

  test("a new leader answers only after an entry of its term committed", () => {
    const c = new Cluster([1, 2, 3]);
    c.drop = (m) => m.type === "app";
    c.elect(1);
    expect(c.node(1).status().commit).toBe(1); // only the bootstrap entry
    c.node(1).readIndex(enc("early"));
    c.tick(2);
    expect(c.reads.get(1)).toEqual([]);
    c.heal();
    c.tick(2);
    expect(c.reads.get(1)!.map((r) => r.index)).toEqual([2]);
  });

  test("lease reads (opt-in) answer without a heartbeat round", () => {
    const c = new Cluster([1, 2, 3], { leaseRead: true });
    c.elect(1);
    c.node(1).readIndex(enc("l"));
    const rd = c.node(1).ready();
    expect(rd.readStates.length).toBe(1);
    expect(rd.messages.filter((m) => m.type === "heartbeat").length).toBe(0);
    c.node(1).advance(rd);
  });
});

describe("raft core: leadership transfer", () => {
  test("transfer to an up-to-date follower", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const term = c.node(1).status().term;
    c.node(1).transferLeadership(2);
    c.pump();
    expect(c.leader()).toBe(2);
    expect(c.node(2).status().term).toBe(term + 1);
    expect(c.node(1).status().lead).toBe(2);
  });

  test("transfer to a lagging follower first catches it up", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    c.propose(1, "a", "b", "c");
    c.heal();
    c.node(1).transferLeadership(3);
    c.pump();
    expect(c.leader()).toBe(3);
    c.propose(3, "d");
    for (const id of [1, 2, 3]) expect(c.applied.get(id)).toEqual(["a", "b", "c", "d"]);
  });

  test("proposals are refused during a transfer, which is abandoned after an election timeout", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    c.node(1).transferLeadership(3);
    expect(c.node(1).status().leadTransferee).toBe(3);
    expect(code(() => c.node(1).propose(enc("x")))).toBe("Unavailable");
    c.tick(11);
    expect(c.leader()).toBe(1);
    expect(c.node(1).status().leadTransferee).toBe(0);
    c.propose(1, "y");
    expect(c.applied.get(2)).toEqual(["y"]);
  });

  test("a follower forwards the request; a non-voter target is refused", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.node(2).transferLeadership(3);
    c.pump();
    expect(c.leader()).toBe(3);
    expect(code(() => c.node(3).transferLeadership(9))).toBe("Invalid");
  });
});
