// Cluster ids: founding members derive the same one, store it and keep it across restarts; a joining node
// learns it; a node of another cluster never gets a frame through (etcd's "cluster ID mismatch").
import { afterEach, expect, test } from "bun:test";
import { foundingClusterId, isClusterId } from "../../src/raft/cluster-id.ts";
import { TestCluster } from "../../src/testing/raft-cluster.ts";
import { CountFsm } from "./count-fsm.ts";

let cluster: TestCluster<CountFsm> | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function threeNodes() {
  cluster = new TestCluster({ size: 3, fsm: () => new CountFsm() });
  await cluster.start();
  return { c: cluster, leader: await cluster.waitForLeader() };
}

test("a founding id ignores the order of peers and changes with any address or the token", () => {
  const peers = [{ id: 1, addr: "10.0.0.1:19001" }, { id: 2, addr: "10.0.0.2:19001" }, { id: 3, addr: "10.0.0.3:19001" }];
  const id = foundingClusterId(peers);
  expect(id).toMatch(/^[0-9a-f]{16}$/);
  expect(foundingClusterId([], "")).toBe("85e58be7d9963008"); // FNV-1a 64 of "streambus-cluster-v1\n\n": founders of one cluster must agree across versions
  expect(isClusterId(id)).toBe(true);
  expect(foundingClusterId([...peers].reverse())).toBe(id);
  expect(foundingClusterId([...peers.slice(0, 2), { id: 3, addr: "10.0.0.9:19001" }])).not.toBe(id);
  expect(foundingClusterId(peers, "staging")).not.toBe(id);
  expect(foundingClusterId(peers, "staging")).toBe(foundingClusterId(peers, "staging"));
});

test("founding members agree on the id and store it; a restart keeps it whatever peers it is given", async () => {
  const { c } = await threeNodes();
  const id = foundingClusterId(c.peers);
  for (const m of c.running()) {
    expect(m.node.clusterId).toBe(id);
    expect(m.node.status().clusterId).toBe(id);
    expect(m.storage.contents().clusterId).toBe(id);
  }
  await c.stopNode(2);
  const again = await c.startNode(2, [...c.peers, { id: 9, addr: "mem-9" }]);
  expect(again.node.clusterId).toBe(id);
});

test("a joining node learns the id from the cluster and stores it", async () => {
  const { c, leader } = await threeNodes();
  await c.settle(leader.node.addVoter(4, "mem-4"));
  const n4 = await c.startNode(4, [...c.peers, { id: 4, addr: "mem-4" }], undefined, { join: true });
  await c.until(() => n4.node.clusterId !== undefined, "node 4 learns the cluster id");
  expect(n4.node.clusterId).toBe(leader.node.clusterId);
  expect(n4.storage.contents().clusterId).toBe(leader.node.clusterId);
  await c.settle(n4.node.propose(new Uint8Array([1])));
  await c.until(() => n4.fsm.n === 1, "node 4 applies");
});

test("a node founded as another cluster gets no frame through, and the cluster is undisturbed", async () => {
  const { c, leader } = await threeNodes();
  const term = leader.node.term;
  // Node 4 started without --join, naming node 1 as its peer: it founds a cluster of its own.
  const stranger = await c.startNode(4, [{ id: 1, addr: "mem-1" }, { id: 4, addr: "mem-4" }]);
  expect(stranger.node.clusterId).toBeDefined();
  expect(stranger.node.clusterId).not.toBe(leader.node.clusterId);
  const delivered = c.network.stats.delivered;
  const from = c.clock.now();
  // Several of the stranger's election timeouts (it campaigns toward node 1 all along).
  await c.until(() => c.clock.now() - from >= 2_000, "2 s of simulated time");
  expect(c.network.stats.refused).toBeGreaterThan(0);
  expect(stranger.node.isLeader()).toBe(false);
  expect(leader.node.isLeader()).toBe(true);
  expect(leader.node.term).toBe(term);
  expect(c.network.stats.delivered).toBeGreaterThan(delivered); // the cluster itself kept talking
  await c.settle(leader.node.propose(new Uint8Array([1])));
});
