// The seven integration steps of CONTRACT.md §1, written step for step against mod.ts, on a three-node
// cluster with the memory ports (the runtime ports are exercised by test/e2e and test/runtimes).
import { afterAll, expect, test } from "bun:test";
import {
  Assignment, BrokerRegistry, ClusterCoordinator, ClusterMetadataStore, defaultConfig, HeartbeatService,
  MetadataFSM, MetadataStore, RaftNode, StickyStrategy,
} from "../mod.ts";
import { MemoryNetwork, memoryStorage } from "../src/testing/mod.ts";

const network = new MemoryNetwork();
const peers = [1, 2, 3].map((id) => ({ id, addr: `127.0.0.1:${19000 + id}` }));
const stoppers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop();
});

async function waitFor<T>(what: string, probe: () => T | undefined | false, deadlineMs = 10_000): Promise<T> {
  const until = performance.now() + deadlineMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("the integration guide's steps 1-7 run against mod.ts", async () => {
  // Step 1: one Raft node per member (short timeouts keep the test quick; the defaults are checked below).
  const stacks = await Promise.all(peers.map(async (peer) => {
    const config = defaultConfig();
    config.nodeId = peer.id;
    config.dataDir = `./data/node${peer.id}`;
    config.peers = peers;
    config.electionTimeout = 300;
    config.heartbeatInterval = 30;
    config.tickInterval = 10;
    const fsm = new MetadataFSM();
    const node = new RaftNode(config, fsm, { storage: memoryStorage(), transport: network.transport() });
    node.setBindAddr(peer.addr);
    await node.start();
    stoppers.push(() => node.stop());
    // Steps 2 and 3: the metadata store and the cluster adapter.
    const metadataStore = new MetadataStore(fsm, node);
    const clusterStore = new ClusterMetadataStore(metadataStore);
    return { node, fsm, metadataStore, clusterStore };
  }));
  const leader = await waitFor("a leader", () => stacks.find((s) => s.metadataStore.isLeader()));
  expect(leader.metadataStore.leaderId()).toBe(leader.node.status().id);

  // Step 4: the broker registry, with user callbacks.
  const added: number[] = [];
  const registry = new BrokerRegistry(leader.clusterStore);
  registry.setOnBrokerAdded((b) => added.push(b.id));
  await registry.start();
  stoppers.push(async () => registry.stop());

  // Step 5: the coordinator.
  const coordinator = new ClusterCoordinator(registry, new StickyStrategy(), leader.clusterStore);
  coordinator.setRebalanceInterval(5 * 60_000);
  coordinator.setRebalanceThreshold(2);
  await coordinator.start();
  stoppers.push(async () => coordinator.stop());

  // Step 6: register brokers (with every optional field) and heartbeat them.
  for (const id of [1, 2, 3]) {
    await registry.registerBroker({
      id, host: "localhost", port: 9091 + id, rack: `rack-${id}`, capacity: 1000, diskCapacityGB: 2000,
      diskUsedGB: 100, networkBandwidth: 10_000_000_000, version: "1.0.0", tags: { dc: "us-west" },
    });
    const heartbeat = new HeartbeatService(id, registry);
    heartbeat.setInterval(10_000);
    await heartbeat.start();
    stoppers.push(async () => heartbeat.stop());
  }
  await waitFor("brokers ALIVE", async () => (await registry.listActiveBrokers()).length === 3);
  expect(added.sort()).toEqual([1, 2, 3]);

  // Step 7: assign partitions through Raft.
  const assignment = await coordinator.assignPartitions(
    [0, 1, 2].map((partitionId) => ({ topic: "events", partitionId, replicas: 3 })),
    { rackAware: true, excludedBrokers: new Set<number>() },
  );
  expect(assignment.totalPartitions()).toBe(3);
  expect(Assignment.fromJSON(assignment.toJSON()).toJSON()).toEqual(assignment.toJSON());

  // Every node's own store sees the brokers (nothing dropped) and the assignment.
  for (const s of stacks) {
    await waitFor(`node ${s.node.status().id} to apply`, () => s.fsm.listBrokers().length === 3 || undefined);
    const b = await s.clusterStore.getBrokerMetadata(2);
    expect(b).toMatchObject({ host: "localhost", port: 9093, rack: "rack-2", capacity: 1000, diskCapacityGB: 2000,
      diskUsedGB: 100, networkBandwidth: 10_000_000_000, version: "1.0.0", tags: { dc: "us-west" } });
    const stored = await s.clusterStore.getPartitionAssignment("events");
    expect(stored.totalPartitions()).toBe(3);
    for (let p = 0; p < 3; p++) expect(stored.getReplicas("events", p).sort()).toEqual([1, 2, 3]);
  }
});

test("defaultConfig has the contract's defaults", () => {
  const c = defaultConfig();
  expect(c).toMatchObject({ electionTimeout: 1500, heartbeatInterval: 150, snapshotThreshold: 8192, maxAppendEntries: 64,
    preVote: true, checkQuorum: true });
});
