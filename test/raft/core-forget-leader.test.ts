// Fast failover: a follower whose link to the leader dropped forgets it and campaigns (through PreVote)
// at once instead of waiting out a randomized election timeout; a node still hearing from a live leader
// refuses such a campaign.
import { describe, expect, test } from "bun:test";
import { Cluster } from "./core-harness.ts";

describe("raft core: forgetLeader", () => {
  test("after the leader dies, forgetLeader + campaign elects a new leader without any tick", () => {
    const c = new Cluster([1, 2, 3]);
    expect(c.elect(1)).toBe(1);
    c.propose(1, "a");
    const term = c.node(1).status().term;
    c.down.add(1); // kill -9: both followers see their link to node 1 drop
    c.node(2).forgetLeader();
    c.node(3).forgetLeader();
    expect(c.node(2).status().lead).toBe(0);
    c.node(2).campaign();
    c.pump();
    expect(c.node(2).status().role).toBe("leader");
    expect(c.node(3).status().lead).toBe(2);
    expect(c.node(2).status().term).toBe(term + 1);
    c.propose(2, "b");
    expect(c.applied.get(3)).toEqual(["a", "b"]);
  });

  test("a node still hearing from a live leader refuses the pre-vote: no term change, the leader stays", () => {
    const c = new Cluster([1, 2, 3]);
    expect(c.elect(1)).toBe(1);
    const term = c.node(1).status().term;
    // Only node 2's link to the leader dropped; node 3 still hears from node 1.
    c.drop = (m) => (m.from === 1 && m.to === 2) || (m.from === 2 && m.to === 1);
    c.node(2).forgetLeader();
    c.node(2).campaign();
    c.pump();
    expect(c.node(2).status().role).not.toBe("leader");
    expect(c.node(2).status().term).toBe(term);
    expect(c.node(3).status().lead).toBe(1);
    expect(c.node(1).status().role).toBe("leader");
    expect(c.node(1).status().term).toBe(term);
    // Once the link is back, the next heartbeat restores node 2's leader.
    c.heal();
    c.tick(2);
    expect(c.node(2).status().lead).toBe(1);
    expect(c.node(2).status().term).toBe(term);
  });

  test("without forgetLeader the other follower's lease blocks the campaign", () => {
    const c = new Cluster([1, 2, 3]);
    expect(c.elect(1)).toBe(1);
    c.down.add(1);
    c.node(2).forgetLeader(); // node 3 did not (yet) notice the leader is gone
    c.node(2).campaign();
    c.pump();
    expect(c.node(2).status().role).not.toBe("leader");
    expect(c.node(3).status().lead).toBe(1);
  });

  test("forgetLeader is a no-op on the leader itself", () => {
    const c = new Cluster([1, 2, 3]);
    expect(c.elect(1)).toBe(1);
    c.node(1).forgetLeader();
    expect(c.node(1).status().lead).toBe(1);
    expect(c.node(1).status().role).toBe("leader");
  });
});

test("raft core: forgetLeader is a no-op with leaseRead (a lease-holding leader counts on no early election)", () => {
  const c = new Cluster([1, 2, 3], { leaseRead: true, checkQuorum: true });
  expect(c.elect(1)).toBe(1);
  c.node(2).forgetLeader();
  expect(c.node(2).status().lead).toBe(1);
});
