import { describe, expect, test } from "bun:test";
import type { Assignment } from "../../src/cluster/assignment.ts";
import { BrokerRegistry } from "../../src/cluster/broker-registry.ts";
import { ClusterCoordinator, type ClusterCoordinatorOptions } from "../../src/cluster/cluster-coordinator.ts";
import { FakeCluster } from "../../src/testing/fake-cluster-store.ts";
import { ManualClock } from "../../src/testing/manual-clock.ts";
import { broker, expectCode, settle, TestStrategy } from "./helpers.ts";

async function setup(opts: { brokers?: number; coordinator?: ClusterCoordinatorOptions } = {}) {
  const cluster = new FakeCluster([1, 2, 3], { leader: 1 });
  const clock = new ManualClock();
  const regs = new Map<number, BrokerRegistry>();
  const coords = new Map<number, ClusterCoordinator>();
  for (const id of [1, 2, 3]) {
    const r = new BrokerRegistry(cluster.node(id), { clock, recoveryPeriodMs: 0 });
    await r.start();
    const c = new ClusterCoordinator(r, new TestStrategy(), cluster.node(id), { clock, ...opts.coordinator });
    await c.start();
    regs.set(id, r);
    coords.set(id, c);
  }
  const leader = regs.get(1)!;
  for (let b = 101; b < 101 + (opts.brokers ?? 3); b++) {
    await leader.registerBroker(broker(b));
    await leader.recordHeartbeat(b);
  }
  await settle();
  const beat = async (ids: number[]) => {
    for (const id of ids) await leader.recordHeartbeat(id);
  };
  return { cluster, clock, regs, coords, leader, coordinator: coords.get(1)!, follower: coords.get(2)!, beat };
}

const loads = (a: Assignment) => Object.fromEntries(a.brokerLoad());
const writesOf = (cluster: FakeCluster, op: string) => cluster.writes.filter((w) => w.op === op);

describe("ClusterCoordinator", () => {
  test("assignPartitions stores through the store and topics coexist", async () => {
    const { cluster, follower } = await setup();
    const a = await follower.assignPartitions([
      { topic: "events", partitionId: 0, replicas: 3 },
      { topic: "events", partitionId: 1, replicas: 3 },
    ], { rackAware: true, excludedBrokers: new Set() });
    expect(a.totalPartitions()).toBe(2);
    await follower.assignPartitions([{ topic: "logs", partitionId: 0, replicas: 2 }]);
    expect(cluster.assignment.topics()).toEqual(["events", "logs"]);
    expect(cluster.assignment.getReplicas("events", 1).length).toBe(3);
  });

  test("assignPartitions rejects malformed input with Invalid", async () => {
    const { cluster, coordinator } = await setup();
    await expectCode(coordinator.assignPartitions([{ topic: "", partitionId: 0, replicas: 1 }]), "Invalid");
    await expectCode(coordinator.assignPartitions([{ topic: "t", partitionId: -1, replicas: 1 }]), "Invalid");
    await expectCode(coordinator.assignPartitions([{ topic: "t", partitionId: 0, replicas: 1 }, { topic: "t", partitionId: 0, replicas: 1 }]), "Invalid");
    await expectCode(coordinator.assignPartitions([{ topic: "t", partitionId: 0, replicas: 4 }]), "Invalid");
    expect(writesOf(cluster, "storeAssignment").length).toBe(0);
  });

  test("createTopic: stored atomically; Conflict when it exists; Invalid when RF exceeds eligible brokers", async () => {
    const { cluster, coordinator } = await setup();
    const { topic, assignment } = await coordinator.createTopic("orders", 6, 2, undefined, { retentionMs: 1000 });
    expect(topic.partitions.length).toBe(6);
    expect(assignment.totalPartitions()).toBe(6);
    expect(writesOf(cluster, "createTopic").length).toBe(1);
    await expectCode(coordinator.createTopic("orders", 1, 1), "Conflict");
    const e = await expectCode(coordinator.createTopic("wide", 1, 4), "Invalid");
    expect(e.message).toContain("3 eligible");
    await expectCode(coordinator.createTopic("bad name!", 1, 1), "Invalid");
    await expectCode(coordinator.createTopic("x", 0, 1), "Invalid");
    expect(cluster.topics.has("wide")).toBe(false);
  });

  test("excluded brokers (a Set, or an array from JSON) get nothing and shrink the eligible count", async () => {
    const { coordinator } = await setup({ brokers: 3 });
    const { assignment } = await coordinator.createTopic("x", 4, 2, { excludedBrokers: [102] as unknown as Set<number> });
    expect(assignment.brokerLoad().has(102)).toBe(false);
    await expectCode(coordinator.createTopic("y", 1, 3, { excludedBrokers: new Set([101]) }), "Invalid");
    await expectCode(coordinator.createTopic("z", 1, 1, { excludedBrokers: "1" as unknown as Set<number> }), "Invalid");
  });

  test("a new broker is rebalanced onto when it becomes ALIVE, not while STARTING (Example 3)", async () => {
    const { cluster, leader, coordinator } = await setup({ brokers: 2 });
    await coordinator.createTopic("t", 6, 2);
    expect(loads(cluster.assignment)).toEqual({ 101: 6, 102: 6 });
    await leader.registerBroker(broker(103));
    await settle();
    expect(writesOf(cluster, "storeAssignment").length).toBe(0);
    await leader.recordHeartbeat(103);
    await settle();
    expect(loads(cluster.assignment)).toEqual({ 101: 4, 102: 4, 103: 4 });
    const r = coordinator.stats().lastResult!;
    expect(r).toMatchObject({ moves: 4, minimumMoves: 4, applied: true, reason: "broker 103 STARTING → ALIVE" });
    expect(r.after.replicaSpread).toBe(0);
  });

  test("a failed broker's replicas move off, only the leader's coordinator writes (Example 2)", async () => {
    const { cluster, clock, coordinator, beat } = await setup({ brokers: 4 });
    await coordinator.createTopic("t", 8, 3);
    for (let i = 0; i < 5; i++) {
      await clock.advanceAsync(10_000);
      await beat([101, 102, 103]); // 104 stays silent
    }
    expect(cluster.brokers.get(104)!.status).toBe("FAILED");
    expect(cluster.assignment.brokerLoad().has(104)).toBe(false);
    expect(loads(cluster.assignment)).toEqual({ 101: 8, 102: 8, 103: 8 });
    expect(new Set(writesOf(cluster, "storeAssignment").map((w) => w.node))).toEqual(new Set([1]));
  });

  test("a deregistered broker's replicas are moved to the others", async () => {
    const { cluster, leader, coordinator } = await setup({ brokers: 4 });
    await coordinator.createTopic("t", 8, 2);
    expect(cluster.assignment.brokerLoad().get(104)).toBe(4);
    await leader.deregisterBroker(104);
    await settle();
    expect(cluster.assignment.partitions().some((p) => p.replicas.includes(104))).toBe(false);
    expect([...cluster.assignment.brokerLoad().values()].sort()).toEqual([5, 5, 6]);
    expect(coordinator.stats().lastResult).toMatchObject({ moves: 4, reason: "broker 104 removed" });
  });

  test("dryRun reports without writing; a follower's rebalance is forwarded to the leader", async () => {
    const { cluster, leader, follower } = await setup({ brokers: 2 });
    await follower.createTopic("t", 4, 1);
    await leader.registerBroker(broker(103));
    const n = writesOf(cluster, "storeAssignment").length;
    const dry = await follower.rebalance({ dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(writesOf(cluster, "storeAssignment").length).toBe(n);
    const real = await follower.rebalance();
    expect(real.applied).toBe(true);
    expect(real.moves).toBe(0); // 103 is still STARTING: not eligible
  });

  test("movement limits split a plan into steps, each stored on its own", async () => {
    const { cluster, leader, coordinator } = await setup({
      brokers: 2,
      coordinator: { limits: { maxMovesPerBroker: 2, maxMovesPerStep: 3 } },
    });
    await coordinator.createTopic("t", 12, 2);
    const before = writesOf(cluster, "storeAssignment").length;
    await leader.registerBroker(broker(103));
    await leader.recordHeartbeat(103);
    await settle();
    const r = coordinator.stats().lastResult!;
    expect(r.moves).toBe(8);
    expect(r.steps).toBeGreaterThanOrEqual(4); // 103 receives 8 replicas, at most 2 per step
    expect(r.stepsApplied).toBe(r.steps);
    expect(writesOf(cluster, "storeAssignment").length - before).toBe(r.steps);
    expect(loads(cluster.assignment)).toEqual({ 101: 8, 102: 8, 103: 8 });
  });

  test("one rebalance at a time: concurrent requests never overlap", async () => {
    let active = 0;
    let maxActive = 0;
    const { coordinator, leader } = await setup({
      brokers: 2,
      coordinator: {
        limits: { maxMovesPerBroker: 1, maxMovesPerStep: 1 },
        awaitStep: async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await settle(1);
          active--;
        },
      },
    });
    await coordinator.createTopic("t", 6, 2);
    await leader.registerBroker(broker(103));
    await leader.recordHeartbeat(103);
    await Promise.all([coordinator.rebalance(), coordinator.rebalance(), coordinator.rebalance()]);
    await settle();
    expect(maxActive).toBe(1);
  });

  test("each rebalance step is a compare-and-set: a change that lands between steps stops the plan", async () => {
    const { Assignment } = await import("../../src/cluster/assignment.ts");
    let foreign: Promise<number> | undefined;
    const { cluster, leader, coordinator } = await setup({
      brokers: 2,
      coordinator: {
        limits: { maxMovesPerBroker: 1, maxMovesPerStep: 1 },
        // After the first step, someone else (a new leader's coordinator, an operator) writes placements.
        awaitStep: async (_step, i) => {
          if (i === 0 && !foreign) foreign = cluster.node(2).storePartitionAssignment(new Assignment([{ topic: "x", partitionId: 0, replicas: [101], leader: 101 }]));
          await foreign;
        },
      },
    });
    await coordinator.createTopic("t", 6, 2);
    await leader.registerBroker(broker(103));
    await leader.recordHeartbeat(103);
    await settle(10);
    const r = coordinator.stats().lastResult!;
    expect(r.steps).toBeGreaterThan(1);
    expect(r.stepsApplied).toBe(1); // the second step found the version moved and was refused
    expect(r.applied).toBe(false);
    expect(cluster.assignment.getReplicas("x", 0)).toEqual([101]);
    // Planned again from what is there now, the rebalance completes.
    const again = await coordinator.rebalance();
    expect(again.applied).toBe(true);
    expect(cluster.assignment.getReplicas("x", 0)).toEqual([101]);
    expect(loads(cluster.assignment)[103]).toBeGreaterThan(0);
  });

  test("storePartitionAssignment with expectedVersion is Conflict on a moved version, and returns the new one", async () => {
    const { Assignment } = await import("../../src/cluster/assignment.ts");
    const { cluster } = await setup({ brokers: 2 });
    const store = cluster.node(1);
    const v = (await store.getPartitionAssignment()).version;
    const one = new Assignment([{ topic: "y", partitionId: 0, replicas: [101], leader: 101 }]);
    expect(await store.storePartitionAssignment(one, { expectedVersion: v })).toBe(v + 1);
    await expectCode(store.storePartitionAssignment(one, { expectedVersion: v }), "Conflict");
  });

  test("a leader change in the middle of a rebalance: the old leader stops, the new one finishes", async () => {
    const { cluster, leader, coords } = await setup({
      brokers: 2,
      coordinator: { limits: { maxMovesPerBroker: 1, maxMovesPerStep: 1 } },
    });
    await coords.get(1)!.createTopic("t", 6, 2);
    let stored = 0;
    cluster.beforeWrite = (w) => {
      if (w.op === "storeAssignment" && ++stored === 2) cluster.setLeader(2); // after the first step
    };
    await leader.registerBroker(broker(103));
    await leader.recordHeartbeat(103);
    await settle(10);
    const nodes = writesOf(cluster, "storeAssignment").map((w) => w.node);
    // The step in flight when leadership moved still lands (a deposed leader's proposal may commit);
    // after it the old leader stops and the new one does the rest.
    expect(nodes.slice(0, 2)).toEqual([1, 1]);
    expect(nodes.length).toBeGreaterThan(2);
    expect(nodes.slice(2).every((n) => n === 2)).toBe(true);
    expect(loads(cluster.assignment)).toEqual({ 101: 4, 102: 4, 103: 4 });
    expect(coords.get(1)!.stats().lastResult?.applied).toBe(false);
  });

  test("drainBroker moves every replica and leadership off, then DECOMMISSIONED; from a follower too", async () => {
    const { cluster, follower, coordinator } = await setup({ brokers: 4 });
    await coordinator.createTopic("t", 8, 3);
    const r = await follower.drainBroker(102);
    expect(r.applied).toBe(true);
    expect(cluster.brokers.get(102)!.status).toBe("DECOMMISSIONED");
    expect(cluster.assignment.partitions().some((p) => p.replicas.includes(102) || p.leader === 102)).toBe(false);
    expect(loads(cluster.assignment)).toEqual({ 101: 8, 103: 8, 104: 8 });
  });

  test("drainBroker is Invalid (and changes nothing) when the rest cannot hold the replicas", async () => {
    const { cluster, coordinator } = await setup({ brokers: 3 });
    await coordinator.createTopic("t", 3, 3);
    await expectCode(coordinator.drainBroker(101), "Invalid");
    expect(cluster.brokers.get(101)!.status).toBe("ALIVE");
    await expectCode(coordinator.drainBroker(999), "NotFound");
  });

  test("periodic check rebalances only when the imbalance exceeds the threshold", async () => {
    const { cluster, clock, coordinator, beat } = await setup({ brokers: 3 });
    coordinator.setRebalanceInterval(60_000);
    coordinator.setRebalanceThreshold(2);
    // An unbalanced placement written directly: loads 6/3/3 (spread 3 > 2).
    const { Assignment } = await import("../../src/cluster/assignment.ts");
    await cluster.node(1).storePartitionAssignment(new Assignment([
      { topic: "a", partitionId: 0, replicas: [101, 102], leader: 101 },
      { topic: "a", partitionId: 1, replicas: [101, 103], leader: 101 },
      { topic: "a", partitionId: 2, replicas: [101, 102], leader: 101 },
      { topic: "b", partitionId: 0, replicas: [101, 103], leader: 101 },
      { topic: "b", partitionId: 1, replicas: [101, 102], leader: 101 },
      { topic: "b", partitionId: 2, replicas: [101, 103], leader: 101 },
    ]));
    expect(loads(cluster.assignment)).toEqual({ 101: 6, 102: 3, 103: 3 });
    for (let i = 0; i < 6; i++) {
      await clock.advanceAsync(10_000);
      await beat([101, 102, 103]);
    }
    await settle();
    expect(loads(cluster.assignment)).toEqual({ 101: 4, 102: 4, 103: 4 });
    // Balanced now: the next periodic checks write nothing.
    const n = writesOf(cluster, "storeAssignment").length;
    for (let i = 0; i < 12; i++) {
      await clock.advanceAsync(10_000);
      await beat([101, 102, 103]);
    }
    expect(writesOf(cluster, "storeAssignment").length).toBe(n);
  });

  test("the coordinator does not take over the user's registry callbacks", async () => {
    const { leader } = await setup({ brokers: 1 });
    const got: number[] = [];
    leader.setOnBrokerAdded((b) => got.push(b.id));
    leader.setOnBrokerFailed((id) => got.push(-id));
    await leader.registerBroker(broker(150));
    expect(got).toEqual([150]);
  });

  test("only the leader's coordinator reacts to broker events", async () => {
    const { cluster, coords, leader } = await setup({ brokers: 2 });
    await coords.get(1)!.createTopic("t", 4, 1);
    await coords.get(1)!.stop(); // the leader's coordinator is off: nobody else may act
    await leader.registerBroker(broker(103));
    await leader.recordHeartbeat(103);
    await settle();
    expect(writesOf(cluster, "storeAssignment").length).toBe(0);
    expect(coords.get(2)!.stats().rebalances + coords.get(3)!.stats().rebalances).toBe(0);
  });
});
