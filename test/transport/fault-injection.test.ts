// The fault suite's partition hook and the link-down signal used for fast failover.
import { afterEach, expect, test } from "bun:test";
import { webSocketTransport } from "../../runtimes/bun/mod.ts";
import type { Transport } from "../../src/ports/transport.ts";
import { MemoryNetwork } from "../../src/testing/memory-transport.ts";
import { FaultInjectingTransport } from "../../src/transport/fault-injection.ts";
import { freePort, waitUntil } from "../helpers/net.ts";

const started: Transport[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

test("FaultInjectingTransport drops frames to and from blocked peers, silently, until healed", async () => {
  const net = new MemoryNetwork();
  const peers = [{ id: 1, addr: "a" }, { id: 2, addr: "b" }];
  const got: string[] = [];
  const t1 = new FaultInjectingTransport(net.transport());
  const t2 = net.transport();
  await t1.start(peers[0]!, peers, (from, f) => got.push(`1<-${from}:${f[0]}`));
  await t2.start(peers[1]!, peers, (from, f) => got.push(`2<-${from}:${f[0]}`));
  started.push(t1, t2);
  t1.block([2]);
  expect(t1.blockedPeers()).toEqual([2]);
  expect(t1.send(2, new Uint8Array([1]))).toBe(true); // lost like on a cut network: the sender cannot tell
  t2.send(1, new Uint8Array([2]));
  await new Promise((r) => setTimeout(r, 0)); // MemoryNetwork delivers on a microtask: all done after one turn
  expect(got).toEqual([]);
  t1.block([]);
  t1.send(2, new Uint8Array([3]));
  t2.send(1, new Uint8Array([4]));
  await waitUntil(() => got.length === 2, "frames after healing");
  expect(got.sort()).toEqual(["1<-2:4", "2<-1:3"]);
});

test("WebSocketTransport.onPeerDown fires when a peer's process goes away", async () => {
  const peers = [{ id: 1, addr: `127.0.0.1:${await freePort()}` }, { id: 2, addr: `127.0.0.1:${await freePort()}` }];
  const a = webSocketTransport();
  const b = webSocketTransport();
  const down: number[] = [];
  await a.start(peers[0]!, peers, () => {});
  await b.start(peers[1]!, peers, () => {});
  started.push(a);
  const off = a.onPeerDown((id) => down.push(id));
  await waitUntil(() => a.connectedPeers().includes(2), "the link to come up");
  await b.stop();
  await waitUntil(() => down.length > 0, "the link-down signal");
  expect(down).toEqual([2]);
  off();
}, 20_000);
