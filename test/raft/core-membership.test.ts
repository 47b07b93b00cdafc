import { describe, expect, test } from "bun:test";
import { applyConfChange, confStateOf } from "../../src/raft/conf-change.ts";
import { jointCommitIndex, jointVoteResult, majorityCommitIndex, majorityVoteResult } from "../../src/raft/quorum.ts";
import type { ConfChange } from "../../src/raft/types.ts";
import { Cluster, code, enc, testConfig } from "./core-harness.ts";

/** A cluster of voters 1..3 plus node 4 started empty (join mode: no peers, waits to be added). */
function withJoiner(over = {}): Cluster {
  const c = new Cluster([1, 2, 3], over);
  c.add(4, testConfig(4, [], over));
  c.elect(1);
  return c;
}

function change(c: Cluster, leader: number, cc: ConfChange): void {
  c.node(leader).proposeConfChange(cc);
  c.pump();
}

describe("raft core: quorum math", () => {
  test("majority and joint commit indexes and vote results", () => {
    const match = (id: number) => [0, 5, 7, 9, 1, 2][id];
    expect(majorityCommitIndex([1, 2, 3], match)).toBe(7);
    expect(majorityCommitIndex([1, 2, 3, 4], match)).toBe(5);
    expect(majorityCommitIndex([3], match)).toBe(9);
    expect(majorityCommitIndex([], match)).toBe(Infinity);
    expect(jointCommitIndex([1, 2, 3], [3, 4, 5], match)).toBe(2);
    expect(jointCommitIndex([1, 2, 3], [], match)).toBe(7);
    const votes = new Map<number, boolean>([[1, true], [2, false]]);
    const v = (id: number) => votes.get(id);
    expect(majorityVoteResult([1, 2, 3], v)).toBe("pending");
    expect(majorityVoteResult([1, 2], v)).toBe("lost");
    votes.set(3, true);
    expect(majorityVoteResult([1, 2, 3], v)).toBe("won");
    expect(jointVoteResult([1, 2, 3], [2, 4, 5], v)).toBe("pending");
    expect(jointVoteResult([1, 3], [2, 4], (id) => (id === 4 ? false : v(id)))).toBe("lost");
    expect(jointVoteResult([], [], v)).toBe("won");
  });
});

describe("raft core: applyConfChange rules", () => {
  const cs = confStateOf([1, 2, 3]);
  test("single-server changes touch at most one voter; joint consensus for more", () => {
    expect(applyConfChange(cs, { changes: [{ type: "addVoter", nodeId: 4 }] }).voters).toEqual([1, 2, 3, 4]);
    expect(code(() => applyConfChange(cs, { changes: [{ type: "addVoter", nodeId: 4 }, { type: "addVoter", nodeId: 5 }], joint: false })))
      .toBeUndefined(); // two changes always use joint consensus
    const j = applyConfChange(cs, { changes: [{ type: "addVoter", nodeId: 4 }, { type: "removeNode", nodeId: 1 }] });
    expect(j.voters).toEqual([2, 3, 4]);
    expect(j.votersOutgoing).toEqual([1, 2, 3]);
    expect(j.autoLeave).toBe(true);
    expect(code(() => applyConfChange(j, { changes: [{ type: "addVoter", nodeId: 5 }] }))).toBe("Conflict");
    const left = applyConfChange(j, { changes: [], leaveJoint: true });
    expect(left).toEqual({ voters: [2, 3, 4], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
  });

  test("demoting an outgoing voter to learner waits for the joint config to be left", () => {
    const j = applyConfChange(confStateOf([1, 2, 3]), { changes: [{ type: "addLearner", nodeId: 3 }], joint: true });
    expect(j.voters).toEqual([1, 2]);
    expect(j.learners).toEqual([]);
    expect(j.learnersNext).toEqual([3]);
    expect(applyConfChange(j, { changes: [], leaveJoint: true }).learners).toEqual([3]);
  });

  test("invalid changes are refused", () => {
    expect(code(() => applyConfChange(confStateOf([1]), { changes: [{ type: "removeNode", nodeId: 1 }] }))).toBe("Invalid");
    expect(code(() => applyConfChange(confStateOf([1]), { changes: [], leaveJoint: true }))).toBe("Invalid");
    expect(code(() => applyConfChange(confStateOf([1]), { changes: [] }))).toBe("Invalid");
    expect(code(() => applyConfChange(confStateOf([1]), { changes: [{ type: "addVoter", nodeId: 0 }] }))).toBe("Invalid");
  });
});

describe("raft core: membership changes", () => {
  test("a learner catches up but neither votes nor counts; promoting it makes it count", () => {
    const c = withJoiner();
    c.propose(1, "a");
    change(c, 1, { changes: [{ type: "addLearner", nodeId: 4, addr: "n4" }] });
    c.propose(1, "b");
    expect(c.applied.get(4)).toEqual(["a", "b"]);
    expect(c.node(4).status().conf.learners).toEqual([4]);
    expect(c.node(1).status().addrs["4"]).toBe("n4");
    // A learner does not count towards the quorum.
    c.isolate(2);
    c.isolate(3);
    c.node(1).propose(enc("c"));
    c.pump();
    expect(c.applied.get(1)).toEqual(["a", "b"]);
    // ...and never campaigns.
    c.tick(40, [4]);
    expect(c.node(4).status().role).toBe("follower");
    c.heal();
    c.tick(2);
    expect(c.applied.get(1)).toEqual(["a", "b", "c"]);
    change(c, 1, { changes: [{ type: "addVoter", nodeId: 4 }] });
    expect(c.node(1).status().conf.voters).toEqual([1, 2, 3, 4]);
    // Voters 1 and 4 of four: no quorum; with 3 back: quorum.
    c.isolate(2);
    c.isolate(3);
    c.propose(1, "d");
    expect(c.applied.get(4)).toEqual(["a", "b", "c"]);
    c.heal();
    c.isolate(2);
    c.tick(2);
    expect(c.applied.get(4)).toEqual(["a", "b", "c", "d"]);
  });

  test("one change in flight; a new leader must first apply an entry of its term", () => {
    const c = new Cluster([1, 2, 3]);
    c.drop = (m) => m.type === "app";
    c.elect(1);
    expect(code(() => c.node(1).proposeConfChange({ changes: [{ type: "removeNode", nodeId: 3 }] }))).toBe("Unavailable");
    c.heal();
    c.tick(2);
    c.node(1).proposeConfChange({ changes: [{ type: "removeNode", nodeId: 3 }] });
    expect(code(() => c.node(1).proposeConfChange({ changes: [{ type: "removeNode", nodeId: 2 }] }))).toBe("Conflict");
    expect(code(() => c.node(1).proposeConfChange({ changes: [{ type: "bogus" as "addVoter", nodeId: 2 }] }))).toBe("Invalid");
    c.pump();
    expect(c.node(1).status().conf.voters).toEqual([1, 2]);
    expect(c.node(2).status().conf.voters).toEqual([1, 2]);
    c.isolate(3);
    c.propose(1, "two-of-two");
    expect(c.applied.get(2)).toEqual(["two-of-two"]);
  });

  test("a removed leader steps down and the rest elect a leader at once", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    change(c, 1, { changes: [{ type: "removeNode", nodeId: 1 }] });
    // It handed over to an up-to-date voter (no election timeout needed)...
    const l = c.leader();
    expect(l === 2 || l === 3).toBe(true);
    expect(c.node(l!).status().term).toBe(c.node(1).status().term + 1);
    // ...refuses proposals meanwhile, and steps down within an election timeout.
    expect(code(() => c.node(1).propose(enc("no")))).toBe("Unavailable");
    c.tick(11, [1]);
    expect(c.node(1).status().role).toBe("follower");
    expect(c.node(l!).status().conf.voters).toEqual([2, 3]);
    c.propose(l!, "after");
    expect(c.applied.get(2)).toEqual(["after"]);
    c.tick(50, [1]);
    expect(c.node(1).status().role).toBe("follower"); // not a voter: never campaigns
  });

  test("joint consensus: enter, require both majorities, leave automatically", () => {
    const c = withJoiner();
    change(c, 1, { changes: [{ type: "addLearner", nodeId: 4 }] });
    change(c, 1, { changes: [{ type: "addVoter", nodeId: 4 }, { type: "removeNode", nodeId: 3 }], autoLeave: false });
    const joint = c.node(1).status().conf;
    expect(joint.voters).toEqual([1, 2, 4]);
    expect(joint.votersOutgoing).toEqual([1, 2, 3]);
    // 1 and 4 form a majority of the incoming half only: no commit.
    c.isolate(2);
    c.isolate(3);
    c.propose(1, "x");
    expect(c.applied.get(1)).toEqual([]);
    c.heal();
    c.isolate(2); // 1,3 of outgoing and 1,4 of incoming: commit
    c.tick(2);
    expect(c.applied.get(1)).toEqual(["x"]);
    c.heal();
    c.tick(1);
    change(c, 1, { changes: [], leaveJoint: true });
    expect(c.node(1).status().conf).toEqual({ voters: [1, 2, 4], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
    expect(c.node(4).status().conf.votersOutgoing).toEqual([]);
  });

  test("joint consensus with autoLeave ends in the new configuration without a second proposal", () => {
    const c = withJoiner();
    change(c, 1, { changes: [{ type: "addVoter", nodeId: 4 }, { type: "removeNode", nodeId: 2 }] });
    c.tick(1);
    for (const id of [1, 3, 4]) {
      expect(c.node(id).status().conf).toEqual({ voters: [1, 3, 4], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
    }
    c.propose(1, "z");
    expect(c.applied.get(4)).toEqual(["z"]);
  });

  test("a follower forwards a membership change; membership survives a restart", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.node(2).proposeConfChange({ changes: [{ type: "addLearner", nodeId: 7, addr: "n7" }] });
    c.pump();
    expect(c.node(1).status().conf.learners).toEqual([7]);
    c.restart(3);
    expect(c.node(3).status().conf.learners).toEqual([7]); // committed changes are in effect before the replay
    c.pump();
    expect(c.node(3).status().addrs["7"]).toBe("n7");
  });
});
