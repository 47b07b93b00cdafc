import { describe, expect, test } from "bun:test";
import { isStreamBusError } from "../../src/errors.ts";
import type { Entry, InitialState, Message } from "../../src/raft/types.ts";
import { Cluster, enc, testConfig } from "./core-harness.ts";

const ent = (index: number, term: number): Entry => ({ index, term, type: "normal", data: enc(`t${term}i${index}`) });
const logOf = (...terms: number[]) => terms.map((t, i) => ent(i + 1, t));
const init = (term: number, commit: number, entries: Entry[]): InitialState => ({ hardState: { term, vote: 0, commit }, entries });

function clusterWithLogs(logs: Record<number, Entry[]>, term: number, commit: number, over = {}): Cluster {
  const ids = Object.keys(logs).map(Number);
  const c = new Cluster([], over);
  for (const id of ids) c.add(id, testConfig(id, ids, over), init(term, commit, logs[id]));
  return c;
}

describe("raft core: replication", () => {
  test("proposals commit and apply in the same order on every node", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, "a", "b", "c");
    for (const id of [1, 2, 3]) expect(c.applied.get(id)).toEqual(["a", "b", "c"]);
    expect(c.node(2).status().commit).toBe(5);
  });

  test("fast backtracking skips a whole conflicting term in one round trip and truncates the follower", () => {
    const c = clusterWithLogs(
      {
        1: logOf(1, 1, 1, 4, 4, 4, 4),
        2: logOf(1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3),
        3: logOf(1, 1, 1, 4, 4, 4, 4),
      },
      4,
      3,
    );
    expect(c.elect(1)).toBe(1);
    const rejects = c.delivered.filter((m) => m.type === "appResp" && m.from === 2 && m.reject);
    expect(rejects.length).toBe(1);
    expect(rejects[0].conflictTerm).toBe(2);
    const s2 = c.node(2).status();
    expect(s2.lastIndex).toBe(8);
    expect(c.disks.get(2)!.entries.map((e) => e.term)).toEqual([1, 1, 1, 4, 4, 4, 4, 5]);
    expect(c.node(1).status().commit).toBe(8);
  });

  test("a stale duplicate append does not truncate entries that match", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    let first: Message | undefined;
    c.drop = (m) => {
      if (!first && m.type === "app" && m.to === 2 && m.entries!.length > 0) first = structuredClone(m);
      return false;
    };
    c.propose(1, "a");
    c.propose(1, "b", "c");
    expect(c.node(2).status().lastIndex).toBe(5);
    c.node(2).step(first!);
    c.pump();
    expect(c.node(2).status().lastIndex).toBe(5);
    expect(c.applied.get(2)).toEqual(["a", "b", "c"]);
  });

  test("append batches respect maxAppendEntries and maxSizePerMsg", () => {
    const c = new Cluster([1, 2, 3], { maxAppendEntries: 4 });
    c.elect(1);
    c.delivered = [];
    for (let i = 0; i < 10; i++) c.node(1).propose(enc(`e${i}`));
    c.pump();
    const apps = c.delivered.filter((m) => m.type === "app" && m.entries!.length > 0);
    expect(Math.max(...apps.map((m) => m.entries!.length))).toBe(4);
    expect(c.applied.get(3)!.length).toBe(10);

    const d = new Cluster([1, 2, 3], { maxSizePerMsg: 250 });
    d.elect(1);
    d.delivered = [];
    for (let i = 0; i < 6; i++) d.node(1).propose(new Uint8Array(100));
    d.pump();
    const dApps = d.delivered.filter((m) => m.type === "app" && m.entries!.length > 0);
    expect(Math.max(...dApps.map((m) => m.entries!.length))).toBe(2);
  });

  test("pipelining is bounded by the in-flight window while acknowledgements are missing", () => {
    const c = new Cluster([1, 2, 3], { maxInflightMsgs: 3, maxAppendEntries: 1 });
    c.elect(1);
    c.drop = (m) => m.type === "appResp" && m.from === 2;
    c.delivered = [];
    for (let i = 0; i < 10; i++) c.node(1).propose(enc(`e${i}`));
    c.pump();
    const to2 = c.delivered.filter((m) => m.type === "app" && m.to === 2 && m.entries!.length > 0);
    const to3 = c.delivered.filter((m) => m.type === "app" && m.to === 3 && m.entries!.length > 0);
    expect(to2.length).toBe(3);
    expect(to3.length).toBe(10);
    expect(c.node(1).status().progress!["2"].state).toBe("replicate");
    c.heal();
    c.tick(3);
    expect(c.applied.get(2)!.length).toBe(10);
  });

  test("Figure 8: entries of an earlier term commit only through an entry of the current term", () => {
    const c = clusterWithLogs({ 1: logOf(1, 2), 2: logOf(1), 3: logOf(1) }, 2, 1, { maxAppendEntries: 1 });
    // The leader learns only that its followers hold index 2 (the term-2 entry), not its own no-op.
    c.drop = (m) => m.type === "appResp" && !m.reject && (m.index ?? 0) >= 3;
    expect(c.elect(1)).toBe(1);
    const pr = c.node(1).status().progress!;
    expect(pr["2"].match).toBe(2);
    expect(pr["3"].match).toBe(2);
    // Index 2 is on all three nodes, but it is from term 2 and the leader is in term 3: no commit.
    expect(c.node(1).status().commit).toBe(1);
    c.heal();
    c.tick(2);
    expect(c.node(1).status().commit).toBe(3);
    expect(c.applied.get(2)).toEqual(["t1i1", "t2i2"]); // a restarted node replays from index 1
  });

  test("a lost append in the replicate state is detected and resent after a heartbeat", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    let dropped = false;
    c.drop = (m) => {
      if (!dropped && m.type === "app" && m.to === 3 && m.entries!.length > 0) return (dropped = true);
      return false;
    };
    c.propose(1, "a");
    expect(c.applied.get(3)).toEqual([]);
    c.tick(2);
    expect(c.applied.get(3)).toEqual(["a"]);
  });

  test("a follower forwards proposals to the leader; with no leader propose fails with NoLeader", () => {
    const c = new Cluster([1, 2, 3]);
    let err: unknown;
    try {
      c.node(2).propose(enc("x"));
    } catch (e) {
      err = e;
    }
    expect(isStreamBusError(err, "NoLeader")).toBe(true);
    c.elect(1);
    c.node(2).propose(enc("from-2"));
    c.node(2).propose(enc("from-2b"));
    const rd = c.node(2).ready();
    const props = rd.messages.filter((m) => m.type === "prop");
    expect(props.length).toBe(1); // batched into one forward
    expect(props[0].to).toBe(1);
    c.node(2).advance(rd);
    c.deliver(rd.messages);
    c.pump();
    for (const id of [1, 2, 3]) expect(c.applied.get(id)).toEqual(["from-2", "from-2b"]);
  });

  test("the leader's commit index never counts a learner or a node outside the configuration", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(2);
    c.isolate(3);
    c.propose(1, "lonely");
    expect(c.node(1).status().commit).toBe(2);
    expect(c.applied.get(1)).toEqual([]);
  });
});
