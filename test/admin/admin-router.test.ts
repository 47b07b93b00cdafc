import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startStack, type Stack } from "./stack.ts";

let s: Stack;
let L: number; // index of the leader
let F: number; // index of a follower
beforeAll(async () => {
  s = await startStack(3);
  L = s.nodes.indexOf(s.leader());
  F = (L + 1) % 3;
});
afterAll(async () => {
  await s.stop();
});

const errorShape = (body: any, code: string) => {
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(5);
};

describe("admin API on an in-process three-node cluster", () => {
  test("GET /health reports the node's view", async () => {
    const r = await s.req(F, "GET", "/health");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "ok", nodeId: F + 1, role: "follower", leaderId: L + 1 });
    expect(r.body.term).toBeGreaterThan(0);
    expect(typeof r.body.commitIndex).toBe("number");
    expect(typeof r.body.appliedIndex).toBe("number");
  });

  test("GET /v1/cluster lists the members with roles", async () => {
    const r = await s.req(F, "GET", "/v1/cluster");
    expect(r.status).toBe(200);
    expect(r.body.leaderId).toBe(L + 1);
    expect(r.body.nodes.map((n: any) => n.id)).toEqual([1, 2, 3]);
    expect(r.body.nodes.find((n: any) => n.id === L + 1).role).toBe("leader");
    expect(r.body.nodes[0].addr).toBe("mem1:1");
    // A member added later is listed with the address its membership change carried, on every node.
    await s.leader().raft.addLearner(9, "mem9:1");
    for (const i of [L, F]) {
      const later = await s.req(i, "GET", "/v1/cluster");
      expect(later.body.nodes.find((n: any) => n.id === 9)).toEqual({ id: 9, addr: "mem9:1", role: "learner" });
    }
    await s.leader().raft.removeNode(9);
    expect(typeof r.body.version).toBe("number");
  });

  test("brokers: register on a follower (201, epoch 1), re-register (200, epoch 2), read everywhere", async () => {
    const b = { id: 1, host: "b1", port: 9092, rack: "r1", capacity: 2, diskCapacityGB: 100, diskUsedGB: 5, networkBandwidth: 10, version: "1.2", tags: { az: "a" } };
    const r1 = await s.req(F, "POST", "/v1/brokers", b);
    expect(r1.status).toBe(201);
    expect(r1.body).toMatchObject({ ...b, epoch: 1, status: "STARTING" });
    const r2 = await s.req(L, "POST", "/v1/brokers", b);
    expect(r2.status).toBe(200);
    expect(r2.body.epoch).toBe(2);
    for (let i = 0; i < 3; i++) {
      const g = await s.req(i, "GET", "/v1/brokers/1");
      expect(g.status).toBe(200);
      expect(g.body).toMatchObject(b);
    }
    const list = await s.req(F, "GET", "/v1/brokers?consistency=stale");
    expect(list.status).toBe(200);
    expect(list.body.brokers.map((x: any) => x.id)).toContain(1);
  });

  test("heartbeat via a follower makes a broker ALIVE; unknown broker 404", async () => {
    await s.req(F, "POST", "/v1/brokers", { id: 2, host: "b2", port: 9092, rack: "r2" });
    await s.req(F, "POST", "/v1/brokers", { id: 3, host: "b3", port: 9092, rack: "r3" });
    for (const id of [1, 2, 3]) {
      const h = await s.req(F, "POST", `/v1/brokers/${id}/heartbeat`);
      expect(h.status).toBe(200);
      expect(h.body.id).toBe(id);
    }
    const unknown = await s.req(F, "POST", "/v1/brokers/77/heartbeat", {});
    expect(unknown.status).toBe(404);
    errorShape(unknown.body, "NotFound");
  });

  test("topics: 201 with assignment, 409 exists, 400 RF above eligible, 404 unknown, delete", async () => {
    const { waitUntil } = await import("../helpers/net.ts");
    await waitUntil(async () => (await s.req(L, "GET", "/v1/brokers")).body.brokers.filter((b: any) => b.status === "ALIVE").length === 3, "3 ALIVE");
    const t = await s.req(F, "POST", "/v1/topics", { name: "events", partitions: 4, replicationFactor: 3, constraints: { rackAware: true } });
    expect(t.status).toBe(201);
    expect(t.body.name).toBe("events");
    expect(t.body.assignment.partitions).toHaveLength(4);
    expect(t.body.partitions[0]).toMatchObject({ partitionId: 0, leaderEpoch: expect.any(Number) });
    expect(t.body.partitions[0].replicas).toHaveLength(3);
    expect(t.body.partitions[0].isr).toHaveLength(3);

    const dup = await s.req(L, "POST", "/v1/topics", { name: "events", partitions: 1, replicationFactor: 1 });
    expect(dup.status).toBe(409);
    errorShape(dup.body, "Conflict");

    const tooMany = await s.req(L, "POST", "/v1/topics", { name: "wide", partitions: 1, replicationFactor: 4 });
    expect(tooMany.status).toBe(400);
    errorShape(tooMany.body, "Invalid");

    const all = await s.req(F, "GET", "/v1/topics");
    expect(all.body.topics.map((x: any) => x.name)).toEqual(["events"]);
    expect((await s.req(F, "GET", "/v1/topics/nope")).status).toBe(404);

    const a = await s.req(F, "GET", "/v1/assignment");
    expect(a.status).toBe(200);
    expect(typeof a.body.version).toBe("number");
    expect(a.body.partitions).toHaveLength(4);
    expect(a.body.partitions[0]).toMatchObject({ topic: "events", partitionId: 0, leader: expect.any(Number) });

    await s.req(F, "POST", "/v1/topics", { name: "tmp", partitions: 1, replicationFactor: 1 });
    const del = await s.req(F, "DELETE", "/v1/topics/tmp");
    expect(del.status).toBe(200);
    expect((await s.req(L, "GET", "/v1/topics/tmp")).status).toBe(404);
  });

  test("rebalance: dry run reports moves, minimumMoves, before and after", async () => {
    const r = await s.req(F, "POST", "/v1/rebalance", { dryRun: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ moves: expect.any(Number), minimumMoves: expect.any(Number), dryRun: true });
    expect(r.body.before).toHaveProperty("replicaSpread");
    expect(r.body.after).toHaveProperty("leaderSpread");
    const empty = await s.req(F, "POST", "/v1/rebalance");
    expect(empty.status).toBe(200);
  });

  test("drain moves replicas off a broker and decommissions it; delete deregisters", async () => {
    await s.req(F, "POST", "/v1/brokers", { id: 4, host: "b4", port: 9092, rack: "r4" });
    await s.req(F, "POST", "/v1/brokers/4/heartbeat");
    const d = await s.req(F, "POST", "/v1/brokers/4/drain");
    expect(d.status).toBe(200);
    expect(d.body.broker.status).toBe("DECOMMISSIONED");
    const a = await s.req(L, "GET", "/v1/assignment");
    expect(a.body.partitions.every((p: any) => !p.replicas.includes(4))).toBe(true);
    const del = await s.req(F, "DELETE", "/v1/brokers/4");
    expect(del.status).toBe(200);
    expect((await s.req(L, "GET", "/v1/brokers/4")).status).toBe(404);
    expect((await s.req(L, "DELETE", "/v1/brokers/4")).status).toBe(404);
  });

  test("bad input gets its documented answer and the node keeps serving", async () => {
    const cases: [string, string, unknown, number, string][] = [
      ["POST", "/v1/brokers", "{not json", 400, "Invalid"],
      ["POST", "/v1/brokers", "", 400, "Invalid"],
      ["POST", "/v1/brokers", { id: "one", host: "h", port: 1 }, 400, "Invalid"],
      ["POST", "/v1/brokers", { id: 1, host: "h", port: 70000 }, 400, "Invalid"],
      ["POST", "/v1/brokers", { id: 1, host: "h", port: 1, surprise: true }, 400, "Invalid"],
      ["POST", "/v1/brokers", [1, 2, 3], 400, "Invalid"],
      ["POST", "/v1/topics", { name: "bad name!", partitions: 1, replicationFactor: 1 }, 400, "Invalid"],
      ["POST", "/v1/topics", { name: "x", partitions: 0, replicationFactor: 1 }, 400, "Invalid"],
      ["POST", "/v1/topics", { name: "x", partitions: 1.5, replicationFactor: 1 }, 400, "Invalid"],
      ["POST", "/v1/rebalance", { dryRun: "yes" }, 400, "Invalid"],
      ["GET", "/v1/brokers/abc", undefined, 400, "Invalid"],
      ["GET", "/v1/brokers/-1", undefined, 400, "Invalid"],
      ["GET", "/v1/brokers/999", undefined, 404, "NotFound"],
      ["GET", "/v1/brokers?consistency=eventual", undefined, 400, "Invalid"],
      ["GET", "/v1/nothing-here", undefined, 404, "NotFound"],
      ["PUT", "/v1/brokers", { id: 1 }, 404, "NotFound"],
      ["GET", "/", undefined, 404, "NotFound"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await s.req(F, method, path, body);
      if (r.status !== status) throw new Error(`${method} ${path} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
      errorShape(r.body, code);
    }
    const wrongType = await s.req(F, "POST", "/v1/brokers", { id: 1, host: "h", port: "x" });
    expect(wrongType.body.error.message).toContain("port");
    expect((await s.req(F, "GET", "/health")).status).toBe(200);
  });

  test("a huge body gets 413 TooLarge", async () => {
    const huge = JSON.stringify({ id: 9, host: "h", port: 1, tags: { pad: "x".repeat(2 << 20) } });
    const r = await s.req(F, "POST", "/v1/brokers", huge);
    expect(r.status).toBe(413);
    errorShape(r.body, "TooLarge");
    expect((await s.req(F, "GET", "/health")).status).toBe(200);
  });

  test("GET /metrics is Prometheus text with Raft, broker and assignment families", async () => {
    const r = await s.req(L, "GET", "/metrics");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/plain");
    const text = String(r.body);
    for (const name of [
      "streambus_raft_term", "streambus_raft_commit_index", "streambus_raft_applied_index", "streambus_raft_leader_changes_total",
      "streambus_raft_proposals_total", "streambus_raft_append_latency_seconds_bucket", "streambus_raft_commit_latency_seconds_count",
      "streambus_raft_snapshots_total", "streambus_brokers_active", "streambus_brokers_failed", "streambus_rebalances_total",
      "streambus_rebalance_moves_total", "streambus_assignment_replica_spread",
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/^streambus_raft_is_leader 1$/m);
    expect(text).toMatch(/^streambus_brokers_active 3$/m);
  });
});

describe("admin token", () => {
  let t: Stack;
  beforeAll(async () => {
    t = await startStack(1, { adminToken: "s3cret-token", maxBodyBytes: 4096 });
  });
  afterAll(async () => {
    await t.stop();
  });

  test("writes need the bearer token; reads do not", async () => {
    const b = { id: 1, host: "h", port: 1 };
    const none = await t.req(0, "POST", "/v1/brokers", b);
    expect(none.status).toBe(401);
    errorShape(none.body, "Unauthorized");
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    const wrong = await t.req(0, "POST", "/v1/brokers", b, { authorization: "Bearer s3cret-tokeN" });
    expect(wrong.status).toBe(401);
    const prefix = await t.req(0, "POST", "/v1/brokers", b, { authorization: "Bearer s3cret" });
    expect(prefix.status).toBe(401);
    const del = await t.req(0, "DELETE", "/v1/brokers/1");
    expect(del.status).toBe(401);
    const ok = await t.req(0, "POST", "/v1/brokers", b, { authorization: "Bearer s3cret-token" });
    expect(ok.status).toBe(201);
    expect((await t.req(0, "GET", "/v1/brokers/1")).status).toBe(200);
    expect((await t.req(0, "GET", "/health")).status).toBe(200);
  });

  test("the configured body limit applies", async () => {
    const r = await t.req(0, "POST", "/v1/brokers", { id: 2, host: "h", port: 1, tags: { pad: "x".repeat(5000) } }, { authorization: "Bearer s3cret-token" });
    expect(r.status).toBe(413);
  });
});
