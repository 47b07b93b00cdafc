/**
 * The metadata layer over real Raft: three RaftNodes on the memory network with one ManualClock, each node
 * with its OWN MetadataStore and ClusterMetadataStore, and every check made against each node's own store
 * (the guide's version queried one store three times).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Encoder } from "cbor-x";
import { Assignment } from "../../src/cluster/assignment.ts";
import { StreamBusError } from "../../src/errors.ts";
import { ClusterMetadataStore } from "../../src/metadata/cluster-metadata-store.ts";
import { MetadataFSM } from "../../src/metadata/metadata-fsm.ts";
import { MetadataStore } from "../../src/metadata/metadata-store.ts";
import type { ApplyResult, MetadataEvent } from "../../src/metadata/types.ts";
import { TestCluster } from "../../src/testing/raft-cluster.ts";

/** Remembers every apply result, so a test can check what each node decided at each index. */
class RecordingFSM extends MetadataFSM {
  readonly results: { index: number; result: ApplyResult; data: Uint8Array }[] = [];
  readonly events: MetadataEvent[] = [];
  constructor() {
    super();
    this.subscribe((e) => this.events.push(e));
  }
  override apply(data: Uint8Array, index: number): ApplyResult {
    const result = super.apply(data, index);
    this.results.push({ index, result, data });
    return result;
  }
}

interface Side {
  id: number;
  fsm: RecordingFSM;
  store: MetadataStore;
  cluster: ClusterMetadataStore;
}

let current: TestCluster<RecordingFSM> | undefined;
afterEach(async () => {
  await current?.stopAll();
  current = undefined;
});

async function boot(seed: number, config = {}) {
  const c = new TestCluster({ size: 3, fsm: () => new RecordingFSM(), seed, config });
  current = c;
  await c.start();
  await c.waitForLeader();
  const sides = new Map<number, Side>();
  for (const m of c.running()) {
    const store = new MetadataStore(m.fsm, m.node, {
      clock: c.clock,
      now: () => c.clock.now(),
      timeoutMs: 20_000,
      attemptTimeoutMs: 1_000,
      retryBackoffMs: 20,
    });
    sides.set(m.id, { id: m.id, fsm: m.fsm, store, cluster: new ClusterMetadataStore(store) });
  }
  const leaderSide = () => sides.get(c.leader()!.id)!;
  const followerSide = () => [...sides.values()].find((s) => s.id !== c.leader()!.id)!;
  return { c, sides, leaderSide, followerSide };
}

async function codeOf(c: TestCluster<RecordingFSM>, p: Promise<unknown>): Promise<string> {
  try {
    await c.settle(p);
    return "ok";
  } catch (e) {
    return e instanceof StreamBusError ? `${e.code}: ${e.message}` : String(e);
  }
}

describe("metadata over a three-node Raft cluster", () => {
  test("writes through any node's store are visible in every node's own store", async () => {
    const { c, sides, leaderSide, followerSide } = await boot(11);
    const leader = leaderSide(), follower = followerSide();
    await c.settle(leader.cluster.storeBrokerMetadata({ id: 1, host: "localhost", port: 9091, rack: "r1" }));
    await c.settle(leader.cluster.storeBrokerMetadata({ id: 2, host: "::1", port: 9092, tags: { disk: "ssd" } }));
    // A follower's store forwards its write to the leader and resolves once applied locally.
    const viaFollower = await c.settle(follower.cluster.storeBrokerMetadata({ id: 3, host: "localhost", port: 9093, capacity: 2 }));
    expect(viaFollower).toMatchObject({ created: true, broker: { id: 3, epoch: 1 } });
    expect(follower.fsm.getBroker(3)).toBeDefined(); // applied here before the promise resolved

    await c.settle(follower.cluster.storePartitionAssignment(new Assignment([
      { topic: "test", partitionId: 0, replicas: [1, 2], leader: 1 },
      { topic: "test", partitionId: 1, replicas: [2, 3], leader: 2 },
    ])));
    await c.settle(leader.cluster.storePartitionAssignment(new Assignment([{ topic: "other", partitionId: 0, replicas: [3], leader: 3 }])));

    const expected = await c.settle(leader.cluster.listBrokers());
    for (const side of sides.values()) {
      const brokers = await c.settle(side.cluster.listBrokers()); // linearizable read on THIS node
      expect(brokers.map((b) => b.id)).toEqual([1, 2, 3]);
      expect(brokers).toEqual(expected);
      expect(brokers[1]).toMatchObject({ host: "::1", tags: { disk: "ssd" } });
      const assignment = await c.settle(side.cluster.getPartitionAssignment());
      expect(assignment.totalPartitions()).toBe(3);
      expect(assignment.getReplicas("test", 1)).toEqual([2, 3]);
      expect(assignment.getLeader("other", 0)).toBe(3);
    }
    // Same history everywhere: the same events in the same order on every node.
    const [a, ...rest] = [...sides.values()].map((s) => s.fsm.events);
    expect(a.length).toBeGreaterThan(0);
    for (const r of rest) expect(r).toEqual(a);
  });

  test("bad input is rejected with a clear error on every node, and the next operation still applies", async () => {
    const { c, sides, leaderSide, followerSide } = await boot(23);
    const leader = leaderSide(), follower = followerSide();
    for (const id of [1, 2, 3]) await c.settle(leader.store.registerBroker({ id, host: "h", port: 9000 + id }));
    await c.settle(leader.store.createTopic("t", {}, [{ partitionId: 0, replicas: [1, 2] }]));
    await c.settle(leader.store.updateLeader("t", 0, 2, 5));

    const rejections = [
      // A registration of a different broker on an address a live broker holds.
      [() => follower.store.registerBroker({ id: 9, host: "h", port: 9001 }), "Conflict", "already registered by broker 1"],
      [() => leader.store.createTopic("u", {}, [{ partitionId: 0, replicas: [1, 7] }]), "Invalid", "unregistered broker(s) 7"],
      [() => follower.store.applyAssignment([{ topic: "t", partitionId: 1, replicas: [8] }]), "Invalid", "unregistered broker(s) 8"],
      [() => leader.store.updateIsr("t", 0, [1, 3]), "Invalid", "non-replica(s) 3"],
      [() => follower.store.updateLeader("t", 0, 1, 4), "Conflict", "stale leader epoch 4"],
      [() => leader.store.createTopic("t", {}, [{ partitionId: 0, replicas: [1] }]), "Conflict", "already exists"],
    ] as const;
    for (const [run, code, text] of rejections) {
      const got = await codeOf(c, run());
      expect(got.startsWith(`${code}: `)).toBe(true);
      expect(got).toContain(text);
    }
    // A malformed entry straight into the log: every node rejects it and moves on.
    const garbage = new Encoder({ useRecords: false }).encode({ clientId: "x", seq: 1, op: { type: "registerBroker", broker: "nope" } });
    const { index: badIndex, result } = await c.settle(c.member(leader.id).node.propose(garbage));
    expect(result).toMatchObject({ ok: false, error: { code: "Invalid" } });

    const stateBefore = JSON.stringify([leader.fsm.listBrokers(), leader.fsm.listPartitions()]);
    await c.settle(follower.store.registerBroker({ id: 4, host: "h", port: 9004 }));
    for (const side of sides.values()) {
      const brokers = await c.settle(side.store.listBrokers());
      expect(brokers.map((b) => b.id)).toEqual([1, 2, 3, 4]);
      expect(await c.settle(side.store.getPartition("t", 0))).toMatchObject({ replicas: [1, 2], isr: [1, 2], leader: 2, leaderEpoch: 5 });
      const atBad = side.fsm.results.find((r) => r.index === badIndex);
      expect(atBad?.result).toMatchObject({ ok: false, error: { code: "Invalid" } });
      const rejected = side.fsm.results.filter((r) => !r.result.ok).map((r) => (r.result as { error: { code: string } }).error.code);
      expect(rejected).toEqual(["Conflict", "Invalid", "Invalid", "Invalid", "Conflict", "Conflict", "Invalid"]);
    }
    expect(JSON.parse(stateBefore)[0].length).toBe(3);
    const snaps = [...sides.values()].map((s) => s.fsm.snapshot());
    for (const s of snaps) expect(s).toEqual(snaps[0]);
  });

  test("a write whose answer is lost in a leader change is retried with the same (clientId, seq) and applies once", async () => {
    const { c, sides, leaderSide } = await boot(37);
    const old = leaderSide();
    const others = [...sides.values()].filter((s) => s.id !== old.id);
    await c.settle(old.store.registerBroker({ id: 1, host: "h", port: 9001 }));
    // The followers still receive the old leader's entries, but it never hears back: the entry commits
    // under the next leader while the proposer loses its leader and has to retry.
    for (const o of others) c.network.cut(o.id, old.id);
    const write = old.store.registerBroker({ id: 2, host: "h", port: 9002 });
    let outcome: { created: boolean; broker: { epoch: number } } | undefined;
    write.then((v) => (outcome = v), () => {});
    await c.until(() => others.every((o) => o.fsm.getBroker(2) !== undefined) && c.leader(others.map((o) => o.id)) !== undefined,
      "the entry committed under a new leader", 20_000);
    expect(outcome).toBeUndefined(); // the proposer has not had its answer
    c.network.heal();
    const value = await c.settle(write);
    expect(value.created).toBe(true);
    expect(value.broker.epoch).toBe(1);
    await c.until(() => [...sides.values()].every((s) => s.fsm.appliedIndex === old.fsm.appliedIndex), "every node caught up");
    for (const side of sides.values()) {
      expect(side.fsm.getBroker(2)?.epoch).toBe(1); // a second application would have made it 2
      expect(side.fsm.events.filter((e) => e.type === "brokerAdded" && e.broker.id === 2)).toHaveLength(1);
      // The retry really went through the log a second time, and was answered from the session table.
      const copies = side.fsm.results.filter((r) => r.result.ok && (r.result.value as { broker?: { id: number } }).broker?.id === 2);
      expect(copies.length).toBeGreaterThanOrEqual(2);
      expect(copies.every((r) => JSON.stringify(r.result) === JSON.stringify(copies[0].result))).toBe(true);
    }
    expect(old.fsm.getBroker(2)?.epoch).toBe(1);
  });

  test("a node that falls behind catches up through a snapshot and ends with the same state and events", async () => {
    const { c, sides, leaderSide } = await boot(41, { snapshotThreshold: 16, compactionOverhead: 2 });
    const leader = leaderSide();
    const lagging = [...sides.values()].find((s) => s.id !== leader.id)!;
    await c.settle(leader.store.registerBroker({ id: 1, host: "h", port: 9001 }));
    c.network.isolate(lagging.id);
    for (let i = 2; i <= 40; i++) await c.settle(leader.store.registerBroker({ id: i, host: "h", port: 9000 + i }));
    await c.settle(leader.store.createTopic("t", {}, [{ partitionId: 0, replicas: [1, 2, 3] }]));
    await c.settle(leader.store.unregisterBroker(40));
    c.network.heal();
    await c.until(() => lagging.fsm.appliedIndex >= leader.fsm.appliedIndex, "the lagging node caught up", 20_000);
    expect(c.member(lagging.id).node.metrics().snapshotsInstalled).toBeGreaterThan(0);
    const brokers = await c.settle(lagging.store.listBrokers());
    expect(brokers.map((b) => b.id)).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));
    expect(lagging.fsm.snapshot()).toEqual(leader.fsm.snapshot());
    // Its listeners heard about everything that changed meanwhile (from the snapshot's diff).
    const added = new Set(lagging.fsm.events.filter((e) => e.type === "brokerAdded").map((e) => (e as { broker: { id: number } }).broker.id));
    for (let i = 1; i <= 39; i++) expect(added.has(i)).toBe(true);
    expect(lagging.fsm.events.some((e) => e.type === "topicCreated")).toBe(true);
  });
});
