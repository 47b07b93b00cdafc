// The simulator's own parts: event ordering, disk durability and torn tails, the network's faults,
// the key-value state machine's session dedup, and proof that the invariants catch a broken driver.
import { describe, expect, test } from "bun:test";
import { seededRandom } from "../../src/rng.ts";
import type { Entry } from "../../src/raft/types.ts";
import { EventQueue } from "../../src/testing/sim/event-queue.ts";
import { InvariantLedger, InvariantViolation } from "../../src/testing/sim/invariants.ts";
import { encodeCommand, KvStateMachine } from "../../src/testing/sim/kv-state-machine.ts";
import { SimDisk } from "../../src/testing/sim/sim-disk.ts";
import { SimNetwork, unreliableNetwork } from "../../src/testing/sim/sim-network.ts";
import { FaultInjector, PROFILES, runSeed } from "../../src/testing/sim/run-seed.ts";
import { checkLinearizability, kvModel } from "../../src/testing/linearizability.ts";
import { SimCluster } from "../../src/testing/sim/sim-cluster.ts";
import { KvWorkload } from "../../src/testing/sim/workload.ts";

const entry = (index: number, term: number, text = ""): Entry => ({ index, term, type: "normal", data: new TextEncoder().encode(text) });

describe("event queue", () => {
  test("runs by time, then insertion order", () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.after(5, () => seen.push("b"));
    q.after(1, () => seen.push("a"));
    q.after(5, () => seen.push("c"));
    q.after(0, () => q.after(0, () => seen.push("d")));
    while (q.runNext());
    expect(seen).toEqual(["d", "a", "b", "c"]);
    expect(q.now).toBe(5);
  });
});

describe("simulated disk", () => {
  test("unsynced writes are lost on a crash; synced ones survive", () => {
    const d = new SimDisk();
    d.write([{ kind: "entries", entries: [entry(1, 1), entry(2, 1)] }, { kind: "hardState", hardState: { term: 1, vote: 1, commit: 2 } }]);
    expect(d.sync()).toBeUndefined();
    d.write([{ kind: "entries", entries: [entry(3, 1)] }]);
    // A crash keeps a random prefix of the pending writes: with one seed it keeps none.
    let lost = false;
    for (let s = 0; s < 20 && !lost; s++) {
      const copy = new SimDisk();
      copy.durable = structuredClone(d.durable);
      copy.write([{ kind: "entries", entries: [entry(3, 1)] }]);
      copy.crash(seededRandom(s));
      if (copy.initialState().entries.length === 2) lost = true;
    }
    expect(lost).toBe(true);
    expect(d.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 2 });
  });

  test("append truncates a conflicting suffix; a gap is reported", () => {
    const d = new SimDisk();
    d.write([{ kind: "entries", entries: [entry(1, 1), entry(2, 1), entry(3, 1)] }]);
    d.sync();
    d.write([{ kind: "entries", entries: [entry(2, 2)] }]);
    d.sync();
    expect(d.initialState().entries.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 2]]);
    d.write([{ kind: "entries", entries: [entry(5, 2)] }]);
    expect(d.sync()).toContain("gap");
  });

  test("a snapshot keeps a matching suffix and drops a conflicting log", () => {
    const d = new SimDisk();
    d.write([{ kind: "entries", entries: [entry(1, 1), entry(2, 1), entry(3, 1)] }]);
    d.sync();
    const conf = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: true };
    d.writeDurable({ kind: "snapshot", snapshot: { meta: { index: 2, term: 1, conf }, data: new Uint8Array() } });
    expect(d.initialState().entries.map((e) => e.index)).toEqual([3]);
    expect(d.hasDurable(1, 1)).toBe(true);
    expect(d.hasDurable(3, 1)).toBe(true);
    expect(d.hasDurable(3, 2)).toBe(false);
    d.writeDurable({ kind: "snapshot", snapshot: { meta: { index: 3, term: 5, conf }, data: new Uint8Array() } });
    expect(d.initialState().entries).toEqual([]);
    expect(d.writeDurable({ kind: "snapshot", snapshot: { meta: { index: 1, term: 1, conf }, data: new Uint8Array() } })).toContain("newer");
  });
});

describe("simulated network", () => {
  test("partitions cut directed links; faults follow the seed", () => {
    const net = new SimNetwork(seededRandom(1), unreliableNetwork);
    net.partition([[1], [2, 3]]);
    expect(net.plan(1, 2)).toEqual([]);
    expect(net.plan(3, 1)).toEqual([]);
    net.healAll();
    net.cutLink(1, 2);
    expect(net.isCut(1, 2)).toBe(true);
    expect(net.isCut(2, 1)).toBe(false);
    let dropped = 0, dup = 0;
    for (let i = 0; i < 2000; i++) {
      const p = net.plan(2, 3);
      if (p.length === 0) dropped++;
      if (p.length === 2) dup++;
    }
    expect(dropped).toBeGreaterThan(100);
    expect(dup).toBeGreaterThan(30);
    const a = new SimNetwork(seededRandom(9), unreliableNetwork), b = new SimNetwork(seededRandom(9), unreliableNetwork);
    for (let i = 0; i < 50; i++) expect(a.plan(1, 2)).toEqual(b.plan(1, 2));
  });
});

describe("key-value state machine", () => {
  test("a duplicated command applies once; snapshots round-trip", () => {
    const kv = new KvStateMachine();
    expect(kv.apply(encodeCommand({ c: 1, s: 1, op: "put", k: "x", v: "a" }))).toEqual({ ok: true });
    expect(kv.apply(encodeCommand({ c: 2, s: 1, op: "put", k: "x", v: "b" }))).toEqual({ ok: true });
    kv.apply(encodeCommand({ c: 1, s: 1, op: "put", k: "x", v: "a" })); // duplicate: ignored
    expect(kv.get("x")).toBe("b");
    expect(kv.apply(encodeCommand({ c: 3, s: 1, op: "cas", k: "x", e: "a", v: "c" }))).toEqual({ ok: false });
    expect(kv.apply(encodeCommand({ c: 3, s: 2, op: "cas", k: "x", e: "b", v: "c" }))).toEqual({ ok: true });
    const copy = new KvStateMachine();
    copy.restore(kv.snapshot());
    expect(copy.get("x")).toBe("c");
    expect(copy.snapshot()).toEqual(kv.snapshot());
    expect(kv.apply(new TextEncoder().encode("not json"))).toBeUndefined();
  });
});

describe("invariant ledger", () => {
  test("flags two leaders in a term, divergent logs and divergent applies", () => {
    const l = new InvariantLedger();
    expect(l.observeLeader(1, 3)).toBe(true);
    expect(l.observeLeader(1, 3)).toBe(false);
    expect(() => l.observeLeader(2, 3)).toThrow(InvariantViolation);
    l.observeWrite(1, entry(1, 1, "a"), 0);
    expect(() => l.observeWrite(2, entry(1, 1, "b"), 0)).toThrow(/log-matching/);
    l.observeWrite(1, entry(2, 2, "c"), 1);
    expect(() => l.observeWrite(2, entry(2, 2, "c"), 0)).toThrow(/log-matching/);
    l.observeApply(1, entry(1, 1, "a"), 1);
    expect(() => l.observeApply(2, entry(1, 2, "a"), 2)).toThrow(/state-machine-safety/);
    expect(() => l.checkLeaderCompleteness(3, 5, () => false)).toThrow(/leader-completeness/);
    l.checkLeaderCompleteness(3, 1, () => false); // committed in term 1: a leader of term 1 need not be checked
  });
});

describe("the simulator catches a broken driver", () => {
  test("sending messages before the fsync is caught (durable-ack or a safety invariant)", () => {
    const caught: string[] = [];
    for (let seed = 1; seed <= 30 && caught.length === 0; seed++) {
      const c = new SimCluster({ seed, nodes: 3, minSyncDelay: 20, maxSyncDelay: 60, unsafeSendBeforeSync: true });
      const w = new KvWorkload(c, c.random.fork());
      w.start(1500);
      try {
        for (let t = 0; t < 1500; t += 100) {
          c.runFor(100);
          if (c.random.chance(0.3)) c.restart(c.ids()[c.random.int(3)]!);
        }
      } catch (e) {
        if (e instanceof InvariantViolation) caught.push(`seed ${seed}: ${e.message}`);
        else throw e;
      }
    }
    expect(caught.length).toBeGreaterThan(0);
  });

  test("stale local reads (no ReadIndex) under partitions are caught by the linearizability checker", () => {
    let caught = 0;
    let report = "";
    for (let seed = 1; seed <= 6; seed++) {
      const c = new SimCluster({ seed, nodes: 3, unsafeLocalReads: true });
      const w = new KvWorkload(c, c.random.fork());
      w.start(2000);
      new FaultInjector(c, c.random.fork(), PROFILES.find((p) => p.name === "partitions")!).start(2000);
      c.runFor(2600);
      const r = checkLinearizability(kvModel, w.history);
      if (!r.ok) {
        caught++;
        report ||= r.failures[0]!.description;
      }
    }
    expect(caught).toBeGreaterThanOrEqual(3);
    expect(report).toContain("cannot be placed next");
  });

  test("a correct driver under the same conditions passes", () => {
    const r = runSeed(5, { profile: "slow-disks", durationMs: 1500 });
    if (!r.ok) console.log(r.report);
    expect(r.ok).toBe(true);
  });
});
