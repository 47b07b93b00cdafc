import { describe, expect, test } from "bun:test";
import { isStreamBusError } from "../../src/errors.ts";
import { SNAPSHOT_WINDOW_CHUNKS } from "../../src/raft/raft-snapshots.ts";
import type { Message } from "../../src/raft/types.ts";
import { Cluster, enc } from "./core-harness.ts";

const many = (n: number, p = "e") => Array.from({ length: n }, (_, i) => `${p}${i}`);

/** Node 3 misses 30 entries that node 1 then compacts behind a snapshot (sent in 16-byte chunks). */
function lagging() {
  const c = new Cluster([1, 2, 3], { compactionOverhead: 0, snapshotChunkSize: 16 });
  c.elect(1);
  c.isolate(3);
  c.propose(1, ...many(30));
  return { c, snap: c.snapshot(1) };
}

describe("raft core: snapshots", () => {
  test("createSnapshot compacts the log, keeping compactionOverhead entries", () => {
    const c = new Cluster([1, 2, 3], { compactionOverhead: 5 });
    c.elect(1);
    c.propose(1, ...many(20));
    const snap = c.snapshot(1);
    expect(snap.meta.index).toBe(22); // bootstrap entry, no-op, 20 proposals
    expect(snap.meta.conf.voters).toEqual([1, 2, 3]);
    expect(snap.meta.addrs).toEqual({ "1": "n1", "2": "n2", "3": "n3" });
    const s = c.node(1).status();
    expect(s.snapshotIndex).toBe(22);
    expect(s.firstIndex).toBe(18);
    let err: unknown;
    try {
      c.node(1).createSnapshot(99, enc("x"));
    } catch (e) {
      err = e;
    }
    expect(isStreamBusError(err, "Invalid")).toBe(true);
  });

  test("a lagging follower receives the snapshot in chunks and catches up", () => {
    const { c, snap } = lagging();
    expect(c.node(1).status().firstIndex).toBe(snap.meta.index + 1);
    c.heal();
    c.delivered = [];
    c.tick(2);
    const chunks = c.delivered.filter((m) => m.type === "snap");
    expect(chunks.length).toBe(Math.ceil(snap.data.length / 16));
    expect(chunks.every((m) => m.snapshot!.data.length <= 16)).toBe(true);
    expect(c.disks.get(3)!.snapshot?.meta.index).toBe(snap.meta.index);
    expect(c.applied.get(3)).toEqual(many(30));
    c.propose(1, "after");
    expect(c.applied.get(3)).toEqual([...many(30), "after"]);
    expect(c.node(1).status().progress!["3"].state).toBe("replicate");
  });

  test("a lost chunk is resent after a stall and the transfer completes", () => {
    const { c } = lagging();
    c.heal();
    let seen = 0;
    c.drop = (m) => m.type === "snap" && ++seen === 3;
    c.tick(30);
    expect(c.applied.get(3)).toEqual(many(30));
  });

  test("the leader keeps a window of chunks in flight, not one per round trip", () => {
    const { c, snap } = lagging();
    expect(snap.data.length).toBeGreaterThan(SNAPSHOT_WINDOW_CHUNKS * 16);
    c.heal();
    c.drop = (m) => m.type === "snapResp"; // no acknowledgement comes back
    c.delivered = [];
    c.tick(2);
    const chunks = c.delivered.filter((m) => m.type === "snap");
    expect(chunks.map((m) => m.snapshot!.offset)).toEqual(Array.from({ length: SNAPSHOT_WINDOW_CHUNKS }, (_, i) => i * 16));
    c.drop = () => false;
    c.tick(30);
    expect(c.applied.get(3)).toEqual(many(30));
  });

  test("a chunk lost inside the window is sent again as soon as the follower reports the gap", () => {
    const { c, snap } = lagging();
    c.heal();
    let seen = 0;
    c.drop = (m) => m.type === "snap" && ++seen === 2;
    c.delivered = [];
    c.tick(2); // well before a stall would resend anything
    expect(c.applied.get(3)).toEqual(many(30));
    const chunks = Math.ceil(snap.data.length / 16);
    const sent = c.delivered.filter((m) => m.type === "snap").length;
    expect(sent).toBeLessThanOrEqual(chunks + SNAPSHOT_WINDOW_CHUNKS); // one window again, not one per gap report
  });

  test("a stale snapshot is ignored: the follower reports its commit and keeps its state", () => {
    const c = new Cluster([1, 2, 3], { compactionOverhead: 0, snapshotChunkSize: 1 << 20 });
    c.elect(1);
    c.isolate(3);
    c.propose(1, ...many(10));
    c.snapshot(1);
    c.heal();
    let old: Message | undefined;
    c.drop = (m) => {
      if (m.type === "snap") old = m;
      return false;
    };
    c.tick(2);
    c.propose(1, ...many(5, "f"));
    const before = c.node(3).status();
    c.node(3).step(old!);
    const rd = c.node(3).ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages).toEqual([{ type: "appResp", from: 3, to: 1, term: before.term, index: before.commit }]);
    c.node(3).advance(rd);
    expect(c.node(3).status().commit).toBe(before.commit);
  });

  test("a snapshot whose last entry is already in the log keeps the log and only commits", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.drop = (m) => m.type === "app" && m.to === 2 && (m.commit ?? 0) > 2; // node 2 gets entries but no commit
    c.propose(1, "a", "b", "c");
    const s2 = c.node(2).status();
    expect(s2.lastIndex).toBe(5);
    expect(s2.commit).toBe(2);
    const term = c.node(1).status().term;
    c.node(2).step({
      type: "snap", from: 1, to: 2, term,
      snapshot: { meta: { index: 4, term, conf: c.node(1).status().conf }, offset: 0, data: enc("[]"), total: 2 },
    });
    const rd = c.node(2).ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.hardState?.commit).toBe(4);
    expect(rd.committedEntries.map((e) => e.index).at(-1)).toBe(4);
    c.node(2).advance(rd);
    expect(c.node(2).status().lastIndex).toBe(5);
  });

  test("a chunk of an older snapshot is ignored while a newer one is being assembled", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const term = c.node(1).status().term;
    const conf = c.node(1).status().conf;
    const chunk = (index: number, offset: number, data: string, total: number): Message => ({
      type: "snap", from: 1, to: 3, term,
      snapshot: { meta: { index, term, conf }, offset, data: enc(data), total },
    });
    const n3 = c.node(3);
    n3.step(chunk(50, 0, "[\"x", 5));
    let rd = n3.ready();
    expect(rd.messages).toEqual([{ type: "snapResp", from: 3, to: 1, term, index: 50, offset: 3 }]);
    n3.advance(rd);
    n3.step(chunk(40, 0, "[]", 2)); // an older snapshot: ignored
    rd = n3.ready();
    expect(rd.messages).toEqual([]);
    expect(rd.snapshot).toBeUndefined();
    n3.advance(rd);
    n3.step(chunk(50, 3, "\"]", 5)); // the rest of `["x"]`
    rd = n3.ready();
    expect(rd.snapshot?.meta.index).toBe(50);
    expect(rd.hardState?.commit).toBe(50);
    expect(n3.status().lastIndex).toBe(50);
    n3.advance(rd);
    expect(n3.status().applied).toBe(50);
  });

  test("a node restarts from its snapshot plus the entries after it", () => {
    const c = new Cluster([1, 2, 3], { compactionOverhead: 0 });
    c.elect(1);
    c.propose(1, ...many(10));
    c.snapshot(2);
    c.propose(1, "x", "y");
    c.restart(2);
    c.pump();
    expect(c.node(2).status().firstIndex).toBe(13);
    expect(c.applied.get(2)).toEqual([...many(10), "x", "y"]);
  });
});
