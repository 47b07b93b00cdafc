// The library use of CONTRACT.md §1: RaftNode with webSocketTransport() listening on its bind address by itself.
import { afterEach, expect, test } from "bun:test";
import { webSocketTransport } from "../../runtimes/bun/mod.ts";
import { MetadataFSM } from "../../src/metadata/metadata-fsm.ts";
import { MetadataStore } from "../../src/metadata/metadata-store.ts";
import { defaultConfig } from "../../src/raft/config.ts";
import { RaftNode } from "../../src/raft/raft-node.ts";
import { memoryStorage } from "../../src/testing/memory-storage.ts";
import { freePort, waitUntil } from "../helpers/net.ts";

const nodes: RaftNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

test("three RaftNodes over webSocketTransport({ clusterSecret }) elect a leader and replicate a follower's write", async () => {
  const peers = [];
  for (let id = 1; id <= 3; id++) peers.push({ id, addr: `127.0.0.1:${await freePort()}` });
  const fsms: MetadataFSM[] = [];
  const stores: MetadataStore[] = [];
  for (const p of peers) {
    const config = { ...defaultConfig(), nodeId: p.id, peers, electionTimeout: 500, heartbeatInterval: 50, tickInterval: 10 };
    const fsm = new MetadataFSM();
    const node = new RaftNode(config, fsm, { storage: memoryStorage(), transport: webSocketTransport({ clusterSecret: "lib" }) });
    node.setBindAddr(p.addr);
    await node.start();
    nodes.push(node);
    fsms.push(fsm);
    stores.push(new MetadataStore(fsm, node));
  }
  await waitUntil(() => nodes.some((n) => n.isLeader()) && nodes.every((n) => n.leaderId() !== undefined), "a leader");
  const follower = nodes.findIndex((n) => !n.isLeader());
  const r = await stores[follower]!.registerBroker({ id: 7, host: "::1", port: 9092, rack: "r" });
  expect(r.created).toBe(true);
  await waitUntil(() => fsms.every((f) => f.listBrokers().some((b) => b.id === 7)), "the broker on every node");
}, 30_000);
