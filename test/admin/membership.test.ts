// Growing and shrinking a running cluster through the admin API: a member is added (as a learner, then
// promoted), the new node starts with `join` and catches up from the log, and a member is removed.
import { afterAll, expect, test } from "bun:test";
import { StreamBusNode } from "../../src/node/streambus-node.ts";
import { decodeConfChange } from "../../src/raft/codec.ts";
import { memoryStorage } from "../../src/testing/memory-storage.ts";
import { waitUntil } from "../helpers/net.ts";
import { startStack, type Stack } from "./stack.ts";

let s: Stack;
let joiner: StreamBusNode | undefined;
afterAll(async () => {
  await joiner?.stop({ transferTimeoutMs: 200 });
  await s?.stop();
});

const roles = (body: any) => Object.fromEntries(body.nodes.map((n: any) => [n.id, n.role === "leader" ? "follower" : n.role]));

test("POST /v1/cluster/members adds a node that joins with `join`, catches up and votes; DELETE removes one", async () => {
  s = await startStack(3);
  const L = s.nodes.indexOf(s.leader());
  const F = (L + 1) % 3;
  expect((await s.req(L, "POST", "/v1/brokers", { id: 7, host: "h", port: 1 })).status).toBe(201);

  // Added through a follower, as a learner first.
  const added = await s.req(F, "POST", "/v1/cluster/members", { id: 4, addr: "mem4:1", learner: true });
  expect(added.status).toBe(201);
  expect(added.body.nodes.find((n: any) => n.id === 4)).toEqual({ id: 4, addr: "mem4:1", role: "learner" });

  const storage = memoryStorage();
  joiner = new StreamBusNode({
    nodeId: 4,
    peers: [1, 2, 3, 4].map((id) => ({ id, addr: `mem${id}:1` })),
    storage,
    peerTransport: s.net.transport(),
    raft: { electionTimeout: 300, heartbeatInterval: 50, tickInterval: 10 },
    join: true,
  });
  await joiner.start();
  // No bootstrap entry of its own (it would claim voters 1-4 at index 1, where the cluster has 1-3): it
  // starts with no membership and learns it, and the brokers, from the leader's log.
  expect(joiner.raft.status().conf).toMatchObject({ voters: [], learners: [] });
  await waitUntil(() => joiner!.fsm.getBroker(7) !== undefined, "node 4 to catch up", 15_000);
  expect(joiner.raft.status().conf.learners).toEqual([4]);
  const [first] = await storage.entries(1, 2);
  expect(decodeConfChange(first!.data).changes.map((c) => c.nodeId)).toEqual([1, 2, 3]);

  const promoted = await s.req(L, "POST", "/v1/cluster/members", { id: 4, addr: "mem4:1" });
  expect(promoted.status).toBe(201);
  expect(roles(promoted.body)).toEqual({ 1: "follower", 2: "follower", 3: "follower", 4: "follower" });
  const read = await joiner.app.request("/v1/brokers/7");
  expect(read.status).toBe(200);

  // Remove a member that is not the leader; the rest go on committing.
  const victim = [1, 2, 3].find((id) => id !== L + 1)!;
  const removed = await s.req(L, "DELETE", `/v1/cluster/members/${victim}`);
  expect(removed.status).toBe(200);
  expect(removed.body.nodes.map((n: any) => n.id)).not.toContain(victim);
  expect((await s.req(L, "POST", "/v1/brokers", { id: 8, host: "h", port: 2 })).status).toBe(201);
  await waitUntil(() => joiner!.fsm.getBroker(8) !== undefined, "node 4 to apply a write made after the removal");
}, 60_000);

test("membership requests with bad input get clear errors and change nothing", async () => {
  const L = s.nodes.indexOf(s.leader());
  const before = (await s.req(L, "GET", "/v1/cluster")).body.nodes;
  for (const body of [{ id: 5 }, { id: 5, addr: "nohost" }, { id: 5, addr: "h:99999" }, { id: 0, addr: "h:1" }, { id: 5, addr: "h:1", extra: 1 }]) {
    const r = await s.req(L, "POST", "/v1/cluster/members", body);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("Invalid");
  }
  const unknown = await s.req(L, "DELETE", "/v1/cluster/members/99");
  expect(unknown.status).toBe(404);
  expect((await s.req(L, "DELETE", "/v1/cluster/members/abc")).status).toBe(400);
  expect((await s.req(L, "GET", "/v1/cluster")).body.nodes).toEqual(before);
});
