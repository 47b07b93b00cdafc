import { describe, expect, test } from "bun:test";
import { Assignment } from "../../src/cluster/assignment.ts";
import { BrokerRegistry } from "../../src/cluster/broker-registry.ts";
import { brokerAddress, type BrokerMetadata, type ClusterEvent } from "../../src/cluster/types.ts";
import { StreamBusError } from "../../src/errors.ts";
import { ClusterMetadataStore } from "../../src/metadata/cluster-metadata-store.ts";
import { MetadataFSM } from "../../src/metadata/metadata-fsm.ts";
import { MetadataStore } from "../../src/metadata/metadata-store.ts";
import { MockConsensus } from "./helpers.ts";

/** Three FSMs behind one mock consensus: every proposal applies to all of them, leader first. */
function stack(opts: { timeoutMs?: number } = {}) {
  const fsms = [new MetadataFSM(), new MetadataFSM(), new MetadataFSM()];
  const node = new MockConsensus(fsms);
  const store = new MetadataStore(fsms[0], node, { retryBackoffMs: 1, timeoutMs: opts.timeoutMs ?? 2000, now: () => 42 });
  return { fsms, node, store, cluster: new ClusterMetadataStore(store) };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof StreamBusError ? e.code : `not a StreamBusError: ${e}`;
  }
}

describe("MetadataStore with a mock consensus (the guide's unit test, honestly)", () => {
  test("broker registration flows to the FSM of every node", async () => {
    const { fsms, cluster } = stack();
    const { broker, created } = await cluster.storeBrokerMetadata({ id: 1, host: "localhost", port: 9092 });
    expect(created).toBe(true);
    expect(broker.epoch).toBe(1);
    for (const fsm of fsms) expect(brokerAddress(fsm.getBroker(1)!)).toBe("localhost:9092");
  });

  test("the guide's flow: BrokerRegistry → ClusterMetadataStore → MetadataStore → FSM", async () => {
    const { fsms, cluster } = stack();
    const registry = new BrokerRegistry(cluster);
    await registry.start();
    try {
      await registry.registerBroker({ id: 1, host: "localhost", port: 9092, rack: "rack-1" });
      const info = fsms[0].getBroker(1);
      expect(info).toBeDefined();
      expect(brokerAddress(info!)).toBe("localhost:9092");
      expect(info).toMatchObject({ rack: "rack-1", epoch: 1, status: "STARTING" });
      expect((await registry.getBroker(1)).epoch).toBe(1);
    } finally {
      await registry.stop();
    }
  });

  test("writes resolve with the operation's value; rejections are typed errors", async () => {
    const { store } = stack();
    await store.registerBroker({ id: 1, host: "a", port: 1 });
    expect(await code(store.unregisterBroker(5))).toBe("NotFound");
    expect(await code(store.createTopic("t", {}, [{ partitionId: 0, replicas: [9] }]))).toBe("Invalid");
    await store.createTopic("t", {}, [{ partitionId: 0, replicas: [1] }]);
    expect(await code(store.createTopic("t", {}, [{ partitionId: 0, replicas: [1] }]))).toBe("Conflict");
    const { version } = await store.versions();
    expect(await code(store.registerBroker({ id: 2, host: "b", port: 1 }, { expectedVersion: version - 1 }))).toBe("Conflict");
    expect((await store.registerBroker({ id: 2, host: "b", port: 1 }, { expectedVersion: version })).created).toBe(true);
    // A shape error is caught before proposing: nothing reaches the log.
    const { node } = stack();
    const s2 = new MetadataStore(new MetadataFSM(), node);
    expect(await code(s2.registerBroker({ id: 0, host: "", port: 70000 }))).toBe("Invalid");
    expect(node.log).toHaveLength(0);
  });

  test("a write retries through lost leaders with the same (clientId, seq) and applies once", async () => {
    const { fsms, node, store } = stack();
    node.faults.push("noLeader", "notLeader", "unavailable", "timeout", "commitThenTimeout");
    const { broker, created } = await store.registerBroker({ id: 1, host: "a", port: 1 });
    // The last fault committed the entry but lost the answer: the retry got the remembered result.
    expect(created).toBe(true);
    expect(broker.epoch).toBe(1);
    expect(node.log).toHaveLength(2);
    expect(node.log[0]).toEqual(node.log[1]);
    for (const fsm of fsms) expect(fsm.getBroker(1)?.epoch).toBe(1);
  });

  test("a retry waits for the next leader instead of spinning", async () => {
    const { node, store } = stack();
    node.setLeader(undefined);
    const pending = store.registerBroker({ id: 1, host: "a", port: 1 }, { timeoutMs: 5000 });
    await Promise.resolve();
    node.setLeader(2);
    expect((await pending).created).toBe(true);
  });

  test("without a leader until the deadline: NoLeader; with a known leader but no commit: Timeout", async () => {
    const { node, store } = stack({ timeoutMs: 30 });
    node.setLeader(undefined);
    expect(await code(store.registerBroker({ id: 1, host: "a", port: 1 }))).toBe("NoLeader");
    node.setLeader(1);
    node.faults.push(...Array(10_000).fill("timeout"));
    expect(await code(store.registerBroker({ id: 1, host: "a", port: 1 }))).toBe("Timeout");
  });

  test("requireLeader refuses on a follower with a NotLeader naming the leader", async () => {
    const { node, store } = stack();
    node.setLeader(3);
    try {
      await store.registerBroker({ id: 1, host: "a", port: 1 }, { requireLeader: true });
      throw new Error("expected NotLeader");
    } catch (e) {
      expect(e).toBeInstanceOf(StreamBusError);
      expect((e as StreamBusError).code).toBe("NotLeader");
      expect((e as StreamBusError).leaderId).toBe(3);
    }
  });

  test("reads are linearizable by default (a barrier each), stale on request", async () => {
    const { node, store } = stack();
    await store.registerBroker({ id: 1, host: "a", port: 1 });
    const before = node.barriers;
    expect((await store.listBrokers()).map((b) => b.id)).toEqual([1]);
    expect(node.barriers).toBe(before + 1);
    await store.getBroker(1, { stale: true });
    expect(node.barriers).toBe(before + 1);
    expect(await code(store.getBroker(2))).toBe("NotFound");
    node.setLeader(undefined);
    expect((await store.listBrokers({ stale: true })).length).toBe(1); // stale reads need no leader
  });

  test("leadership and RPCs pass through", async () => {
    const { node, store } = stack();
    const seen: (number | undefined)[] = [];
    store.onLeaderChange((id) => seen.push(id));
    node.setLeader(2);
    expect(store.leaderId()).toBe(2);
    expect(store.isLeader()).toBe(false);
    expect(seen).toEqual([2]);
    store.handle("echo", async (b) => ({ got: b }));
    expect(await store.callLeader("echo", 7)).toEqual({ got: 7 });
  });
});

describe("ClusterMetadataStore", () => {
  const full: BrokerMetadata = {
    id: 7,
    host: "::1",
    port: 9092,
    rack: "rack-b",
    capacity: 2.5,
    diskCapacityGB: 1000,
    diskUsedGB: 12.5,
    networkBandwidth: 10_000,
    version: "3.7.0",
    tags: { zone: "eu-1", tier: "ssd" },
  };

  test("conversion is lossless, IPv6 included, through every node's FSM", async () => {
    const { fsms, cluster } = stack();
    const stored = await cluster.storeBrokerMetadata(full);
    expect(stored.broker).toMatchObject({ ...full, status: "STARTING", epoch: 1, lastHeartbeat: 0 });
    expect(brokerAddress(stored.broker)).toBe("[::1]:9092");
    const got = await cluster.getBrokerMetadata(7);
    expect(got).toEqual(stored.broker);
    for (const fsm of fsms) expect(fsm.getBroker(7)).toMatchObject({ ...full });
    // A bracketed host means the same address.
    const again = await cluster.storeBrokerMetadata({ ...full, host: "[::1]" });
    expect(again.created).toBe(false);
    expect(again.broker.host).toBe("::1");
    expect(again.broker.epoch).toBe(2);
  });

  test("brokers: list in id order, status updates, delete, NotFound", async () => {
    const { cluster } = stack();
    for (const id of [3, 1, 2]) await cluster.storeBrokerMetadata({ id, host: "h", port: 9000 + id });
    expect((await cluster.listBrokers()).map((b) => b.id)).toEqual([1, 2, 3]);
    const alive = await cluster.updateBrokerStatus(2, "ALIVE", 500);
    expect(alive).toMatchObject({ status: "ALIVE", lastHeartbeat: 500 });
    await cluster.deleteBroker(3);
    expect(await code(cluster.getBrokerMetadata(3))).toBe("NotFound");
    expect(await code(cluster.deleteBroker(3))).toBe("NotFound");
  });

  test("assignments of several topics coexist; storing creates or updates; per-topic reads", async () => {
    const { cluster } = stack();
    for (const id of [1, 2, 3]) await cluster.storeBrokerMetadata({ id, host: "h", port: 9000 + id });
    const events = new Assignment([
      { topic: "events", partitionId: 0, replicas: [1, 2], leader: 1 },
      { topic: "events", partitionId: 1, replicas: [2, 3], leader: 2 },
    ]);
    await cluster.storePartitionAssignment(events);
    await cluster.storePartitionAssignment(new Assignment([{ topic: "logs", partitionId: 0, replicas: [3, 1], leader: 3 }]));
    await cluster.storePartitionAssignment(events); // storing again never fails because partitions exist
    await cluster.storePartitionAssignment(new Assignment([{ topic: "events", partitionId: 1, replicas: [3, 1], leader: 3 }]));
    const all = await cluster.getPartitionAssignment();
    expect(all.totalPartitions()).toBe(3);
    expect(all.getReplicas("events", 1)).toEqual([3, 1]);
    expect(all.getReplicas("logs", 0)).toEqual([3, 1]);
    expect(all.version).toBeGreaterThan(0);
    const one = await cluster.getPartitionAssignment("events");
    expect(one.topics()).toEqual(["events"]);
    expect(Assignment.fromJSON(JSON.parse(JSON.stringify(one.toJSON()))).toJSON()).toEqual(one.toJSON());
    expect(await code(cluster.storePartitionAssignment(new Assignment([{ topic: "x", partitionId: 0, replicas: [9], leader: 9 }])))).toBe("Invalid");
  });

  test("storePartitionAssignment with expectedVersion: the new version, Conflict once it moved, unchanged when nothing changed", async () => {
    const { cluster } = stack();
    for (const id of [1, 2]) await cluster.storeBrokerMetadata({ id, host: "h", port: 9000 + id });
    const v = (await cluster.getPartitionAssignment()).version;
    const a = new Assignment([{ topic: "t", partitionId: 0, replicas: [1, 2], leader: 1 }]);
    expect(await cluster.storePartitionAssignment(a, { expectedVersion: v })).toBe(v + 1);
    expect(await cluster.storePartitionAssignment(a, { expectedVersion: v + 1 })).toBe(v + 1); // no placement changed
    expect(await code(cluster.storePartitionAssignment(new Assignment([{ topic: "t", partitionId: 0, replicas: [2, 1], leader: 2 }]), { expectedVersion: v }))).toBe("Conflict");
    expect((await cluster.getPartitionAssignment()).getReplicas("t", 0)).toEqual([1, 2]);
    expect((await cluster.getPartitionAssignment()).version).toBe(v + 1);
  });

  test("topics: create with the assignment, read, delete", async () => {
    const { cluster } = stack();
    for (const id of [1, 2]) await cluster.storeBrokerMetadata({ id, host: "h", port: 9000 + id });
    const a = new Assignment([
      { topic: "t", partitionId: 0, replicas: [1, 2], leader: 1 },
      { topic: "t", partitionId: 1, replicas: [2, 1], leader: 2 },
    ]);
    const state = await cluster.createTopic("t", { retentionMs: 60_000 }, a);
    expect(state).toEqual({
      name: "t",
      config: { retentionMs: 60_000 },
      partitions: [
        { partitionId: 0, replicas: [1, 2], leader: 1, isr: [1, 2], leaderEpoch: 0, partitionEpoch: 0 },
        { partitionId: 1, replicas: [2, 1], leader: 2, isr: [2, 1], leaderEpoch: 0, partitionEpoch: 0 },
      ],
    });
    expect(await code(cluster.createTopic("t", {}, a))).toBe("Conflict");
    expect(await code(cluster.createTopic("u", {}, a))).toBe("Invalid");
    expect((await cluster.listTopics()).map((t) => t.name)).toEqual(["t"]);
    await cluster.deleteTopic("t");
    expect(await code(cluster.getTopic("t"))).toBe("NotFound");
  });

  test("events arrive as ClusterEvents on every node, in apply order", async () => {
    const { fsms, node, cluster } = stack();
    const perNode: ClusterEvent[][] = fsms.map(() => []);
    fsms.forEach((fsm, i) => {
      const view = new ClusterMetadataStore(new MetadataStore(fsm, node));
      view.subscribe((e) => perNode[i].push(e));
    });
    await cluster.storeBrokerMetadata({ id: 1, host: "h", port: 1 });
    await cluster.updateBrokerStatus(1, "ALIVE", 1);
    await cluster.storePartitionAssignment(new Assignment([{ topic: "t", partitionId: 0, replicas: [1], leader: 1 }]));
    await cluster.deleteBroker(1);
    expect(perNode[0].map((e) => e.type)).toEqual([
      "brokerAdded",
      "brokerStatusChanged",
      "topicCreated",
      "partitionsChanged",
      "brokerRemoved",
    ]);
    expect(perNode[0][1]).toMatchObject({ type: "brokerStatusChanged", previous: "STARTING", broker: { status: "ALIVE" } });
    expect(perNode[1]).toEqual(perNode[0]);
    expect(perNode[2]).toEqual(perNode[0]);
  });
});
