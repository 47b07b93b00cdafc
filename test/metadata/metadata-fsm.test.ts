import { describe, expect, test } from "bun:test";
import { Encoder } from "cbor-x";
import { MetadataFSM } from "../../src/metadata/metadata-fsm.ts";
import { encodeCommand } from "../../src/metadata/operation-codec.ts";
import type { Operation } from "../../src/metadata/types.ts";
import { FsmDriver, reg } from "./helpers.ts";

const cbor = new Encoder({ useRecords: false });
const snapshotOfState = (f: MetadataFSM) =>
  JSON.stringify([f.listBrokers(), f.listTopics(), f.listPartitions(), f.version, f.assignmentVersion]);

function cluster(n = 3) {
  const d = new FsmDriver();
  for (let i = 1; i <= n; i++) d.ok(reg(i));
  return d;
}

describe("brokers", () => {
  test("registerBroker is an upsert that bumps the epoch and keeps registry-owned fields", () => {
    const d = new FsmDriver();
    const first = d.ok(reg(1, 100, { rack: "r1", tags: { zone: "a" } }));
    expect(first.created).toBe(true);
    expect(first.broker).toMatchObject({ id: 1, epoch: 1, status: "STARTING", registeredAt: 100, rack: "r1", tags: { zone: "a" } });
    d.ok({ type: "updateBrokerStatus", brokerId: 1, status: "ALIVE", at: 150 });
    const again = d.ok(reg(1, 200, { status: "ALIVE" }));
    expect(again.created).toBe(false);
    expect(again.broker).toMatchObject({ epoch: 2, registeredAt: 200, lastHeartbeat: 150 });
    expect(again.broker.rack).toBeUndefined(); // a re-registration states the broker afresh
    expect(d.events.map((e) => e.type)).toEqual(["brokerAdded", "brokerStatusChanged", "brokerUpdated"]);
  });

  test("a re-registration without a status keeps ALIVE and DRAINING, and restarts anything else as STARTING", () => {
    const d = new FsmDriver();
    d.ok(reg(1, 100));
    d.ok({ type: "updateBrokerStatus", brokerId: 1, status: "ALIVE", at: 110 });
    expect(d.ok(reg(1, 120)).broker.status).toBe("ALIVE");
    d.ok({ type: "updateBrokerStatus", brokerId: 1, status: "DRAINING", at: 130 });
    expect(d.ok(reg(1, 140)).broker.status).toBe("DRAINING");
    d.ok({ type: "updateBrokerStatus", brokerId: 1, status: "FAILED", at: 150 });
    expect(d.ok(reg(1, 160)).broker.status).toBe("STARTING");
    expect(d.ok(reg(1, 170, { status: "FAILED" })).broker.status).toBe("FAILED"); // an explicit status wins
  });

  test("two live brokers cannot share an address; a failed one can be replaced", () => {
    const d = cluster(2);
    const r = d.run({ type: "registerBroker", broker: { id: 5, host: "localhost", port: 9091 }, at: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("Conflict");
      expect(r.error.message).toContain("already registered by broker 1");
    }
    expect(d.fsm.getBroker(5)).toBeUndefined();
    d.ok({ type: "updateBrokerStatus", brokerId: 1, status: "FAILED", at: 2 });
    expect(d.ok({ type: "registerBroker", broker: { id: 5, host: "localhost", port: 9091 }, at: 3 }).created).toBe(true);
  });

  test("updateBroker patches fields without a new epoch; null removes an optional field", () => {
    const d = new FsmDriver();
    d.ok(reg(1, 1, { rack: "r1", capacity: 2 }));
    const { broker } = d.ok({ type: "updateBroker", brokerId: 1, patch: { rack: null, diskUsedGB: 10, lastHeartbeat: 5 } });
    expect(broker).toMatchObject({ epoch: 1, capacity: 2, diskUsedGB: 10, lastHeartbeat: 5 });
    expect("rack" in broker).toBe(false);
    expect(d.run({ type: "updateBroker", brokerId: 9, patch: {} })).toMatchObject({ ok: false, error: { code: "NotFound" } });
  });

  test("updateBrokerStatus reports the previous status; ALIVE records the heartbeat time", () => {
    const d = cluster(1);
    const v = d.ok({ type: "updateBrokerStatus", brokerId: 1, status: "ALIVE", at: 777 });
    expect(v.previous).toBe("STARTING");
    expect(v.broker).toMatchObject({ status: "ALIVE", lastHeartbeat: 777, statusChangedAt: 777 });
    d.ok({ type: "updateBrokerStatus", brokerId: 1, status: "ALIVE", at: 800 }); // same status: no event
    expect(d.events.filter((e) => e.type === "brokerStatusChanged")).toHaveLength(1);
  });

  test("unregisterBroker removes; an unknown id is NotFound", () => {
    const d = cluster(2);
    d.ok({ type: "unregisterBroker", brokerId: 2 });
    expect(d.fsm.listBrokers().map((b) => b.id)).toEqual([1]);
    expect(d.run({ type: "unregisterBroker", brokerId: 2 })).toMatchObject({ ok: false, error: { code: "NotFound" } });
    expect(d.events.at(-1)).toEqual({ type: "brokerRemoved", brokerId: 2 });
  });
});

describe("topics and partitions", () => {
  const createA: Operation = {
    type: "createTopic",
    name: "a",
    config: { retentionMs: 1000, minInSyncReplicas: 2 },
    partitions: [{ partitionId: 0, replicas: [1, 2] }, { partitionId: 1, replicas: [2, 3], leader: 3 }],
    at: 5,
  };

  test("createTopic creates every partition at once, with ISR = replicas", () => {
    const d = cluster();
    const v = d.ok(createA);
    expect(v).toMatchObject({ topic: { name: "a", partitionCount: 2, createdAt: 5 }, partitions: 2 });
    expect(d.fsm.listPartitions("a")).toEqual([
      { topic: "a", partitionId: 0, replicas: [1, 2], leader: 1, isr: [1, 2], leaderEpoch: 0, partitionEpoch: 0 },
      { topic: "a", partitionId: 1, replicas: [2, 3], leader: 3, isr: [2, 3], leaderEpoch: 0, partitionEpoch: 0 },
    ]);
    expect(d.events.slice(-2).map((e) => e.type)).toEqual(["topicCreated", "partitionsChanged"]);
    expect(d.run(createA)).toMatchObject({ ok: false, error: { code: "Conflict" } });
  });

  test("createTopic with one partition on an unknown broker creates nothing", () => {
    const d = cluster();
    const before = snapshotOfState(d.fsm);
    const r = d.run({ ...createA, partitions: [{ partitionId: 0, replicas: [1] }, { partitionId: 1, replicas: [2, 9] }] } as Operation);
    expect(r).toMatchObject({ ok: false, error: { code: "Invalid" } });
    if (!r.ok) expect(r.error.message).toContain("unregistered broker(s) 9");
    expect(snapshotOfState(d.fsm)).toBe(before);
    const gap = d.run({ ...createA, partitions: [{ partitionId: 0, replicas: [1] }, { partitionId: 2, replicas: [2] }] } as Operation);
    expect(gap).toMatchObject({ ok: false, error: { code: "Invalid" } });
  });

  test("applyAssignment creates or updates across topics; other topics stay", () => {
    const d = cluster();
    d.ok({ type: "applyAssignment", partitions: [{ topic: "x", partitionId: 0, replicas: [1, 2] }], at: 1 });
    const av = d.fsm.assignmentVersion;
    d.ok({
      type: "applyAssignment",
      partitions: [{ topic: "y", partitionId: 0, replicas: [3, 1] }, { topic: "x", partitionId: 1, replicas: [2, 3] }],
      at: 2,
    });
    expect(d.fsm.listPlacements().map((p) => `${p.topic}/${p.partitionId}:${p.replicas}`)).toEqual(["x/0:1,2", "x/1:2,3", "y/0:3,1"]);
    expect(d.fsm.assignmentVersion).toBe(av + 1);
    expect(d.fsm.getTopic("x")?.partitionCount).toBe(2);
    // Re-applying the same placement changes nothing and keeps the assignment version.
    const same = d.ok({ type: "applyAssignment", partitions: [{ topic: "x", partitionId: 0, replicas: [1, 2] }], at: 3 });
    expect(same.changed).toBe(0);
    expect(d.fsm.assignmentVersion).toBe(av + 1);
    // Moving the leader by reordering keeps the ISR and bumps the leader epoch.
    d.ok({ type: "applyAssignment", partitions: [{ topic: "x", partitionId: 0, replicas: [2, 1] }], at: 4 });
    expect(d.fsm.getPartition("x", 0)).toMatchObject({ replicas: [2, 1], leader: 2, isr: [2, 1], leaderEpoch: 1, partitionEpoch: 1 });
    expect(d.events.at(-1)).toMatchObject({ type: "leaderChanged", topic: "x", partitionId: 0, leader: 2, leaderEpoch: 1 });
  });

  test("applyAssignment is all or nothing: an unknown broker anywhere rejects the batch", () => {
    const d = cluster();
    const before = snapshotOfState(d.fsm);
    const r = d.run({
      type: "applyAssignment",
      partitions: [{ topic: "x", partitionId: 0, replicas: [1, 2] }, { topic: "z", partitionId: 0, replicas: [4] }],
      at: 1,
    });
    expect(r).toMatchObject({ ok: false, error: { code: "Invalid" } });
    expect(snapshotOfState(d.fsm)).toBe(before);
    expect(d.fsm.getTopic("x")).toBeUndefined();
  });

  test("deleteTopic and updateTopicConfig", () => {
    const d = cluster();
    d.ok(createA);
    const { topic } = d.ok({ type: "updateTopicConfig", name: "a", config: { retentionMs: 5, minInSyncReplicas: null, custom: "x" } });
    expect(topic.config).toEqual({ custom: "x", retentionMs: 5 });
    d.ok({ type: "deleteTopic", name: "a" });
    expect(d.fsm.listPartitions()).toEqual([]);
    expect(d.run({ type: "deleteTopic", name: "a" })).toMatchObject({ ok: false, error: { code: "NotFound" } });
    expect(d.run({ type: "updateTopicConfig", name: "a", config: {} })).toMatchObject({ ok: false, error: { code: "NotFound" } });
  });

  test("updateLeader needs a higher epoch and a leader in the ISR", () => {
    const d = cluster();
    d.ok(createA);
    const up = d.ok({ type: "updateLeader", topic: "a", partitionId: 0, leader: 2, leaderEpoch: 3 });
    expect(up.partition).toMatchObject({ leader: 2, leaderEpoch: 3, partitionEpoch: 1 });
    const stale = d.run({ type: "updateLeader", topic: "a", partitionId: 0, leader: 1, leaderEpoch: 3 });
    expect(stale).toMatchObject({ ok: false, error: { code: "Conflict" } });
    if (!stale.ok) expect(stale.error.message).toContain("stale leader epoch 3");
    const outside = d.run({ type: "updateLeader", topic: "a", partitionId: 0, leader: 3, leaderEpoch: 4 });
    expect(outside).toMatchObject({ ok: false, error: { code: "Invalid" } });
    expect(d.run({ type: "updateLeader", topic: "a", partitionId: 7, leader: 1, leaderEpoch: 9 })).toMatchObject({
      ok: false,
      error: { code: "NotFound" },
    });
  });

  test("updateIsr takes a subset of the replicas, fenced by the leader epoch", () => {
    const d = cluster();
    d.ok(createA);
    const outside = d.run({ type: "updateIsr", topic: "a", partitionId: 0, isr: [1, 3] });
    expect(outside).toMatchObject({ ok: false, error: { code: "Invalid" } });
    if (!outside.ok) expect(outside.error.message).toContain("non-replica(s) 3");
    expect(d.run({ type: "updateIsr", topic: "a", partitionId: 0, isr: [1], leaderEpoch: 1 })).toMatchObject({
      ok: false,
      error: { code: "Conflict" },
    });
    const v = d.ok({ type: "updateIsr", topic: "a", partitionId: 0, isr: [2, 1], leaderEpoch: 0 });
    expect(v.partition.isr).toEqual([1, 2]); // kept in replica order
    d.ok({ type: "updateIsr", topic: "a", partitionId: 0, isr: [1] });
    expect(d.events.at(-1)).toEqual({ type: "isrChanged", topic: "a", partitionId: 0, isr: [1], partitionEpoch: 1 });
  });

  test("a reassignment completes only once the added replicas are in sync", () => {
    const d = cluster(4);
    d.ok(createA);
    const begun = d.ok({ type: "beginReassignment", topic: "a", partitionId: 0, targetReplicas: [3, 4] });
    expect(begun.partition).toMatchObject({ replicas: [3, 4, 1, 2], addingReplicas: [3, 4], removingReplicas: [1, 2] });
    expect(d.run({ type: "beginReassignment", topic: "a", partitionId: 0, targetReplicas: [2] })).toMatchObject({
      ok: false,
      error: { code: "Conflict" },
    });
    expect(d.run({ type: "completeReassignment", topic: "a", partitionId: 0 })).toMatchObject({ ok: false, error: { code: "Conflict" } });
    d.ok({ type: "updateIsr", topic: "a", partitionId: 0, isr: [1, 2, 3, 4] });
    const done = d.ok({ type: "completeReassignment", topic: "a", partitionId: 0 });
    expect(done.partition).toEqual({
      topic: "a", partitionId: 0, replicas: [3, 4], leader: 3, isr: [3, 4], leaderEpoch: 1, partitionEpoch: 3,
    });
    expect(d.run({ type: "completeReassignment", topic: "a", partitionId: 0 })).toMatchObject({ ok: false, error: { code: "Invalid" } });
  });
});

describe("rejections never stall the log", () => {
  test("malformed entries are rejected as Invalid and the next entry applies", () => {
    const d = cluster(1);
    const before = snapshotOfState(d.fsm);
    const bad: Uint8Array[] = [
      new Uint8Array([0xff, 0x00, 0x13]),
      new Uint8Array(),
      cbor.encode({ clientId: "c", seq: 1, op: { type: "dropDatabase" } }),
      cbor.encode({ clientId: "c", seq: 1, op: { type: "registerBroker", broker: { id: -1, host: "h", port: 1 }, at: 0 } }),
      cbor.encode({ clientId: "c", seq: 2, op: { type: "applyAssignment", partitions: [{ topic: "t", partitionId: 0, replicas: [1, 1] }], at: 0 } }),
      cbor.encode({ clientId: "c", seq: 3, op: { type: "updateIsr", topic: "t", partitionId: 0, isr: [] } }),
      cbor.encode([1, 2, 3]),
      cbor.encode({ seq: 4, op: { type: "deleteTopic", name: "t" } }),
    ];
    for (const b of bad) {
      const r = d.raw(b);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe("Invalid");
    }
    expect(snapshotOfState(d.fsm)).toBe(before);
    expect(d.ok(reg(2)).created).toBe(true);
  });

  test("encodeCommand refuses a bad operation before it reaches the log", () => {
    expect(() => encodeCommand({ clientId: "c", seq: 1, op: { type: "applyAssignment", partitions: [{ topic: "t", partitionId: 0, replicas: [2, 2] }], at: 0 } }))
      .toThrow(/lists a broker twice/);
  });

  test("a listener that throws does not break apply", () => {
    const d = new FsmDriver();
    d.fsm.subscribe(() => {
      throw new Error("listener bug");
    });
    expect(d.ok(reg(1)).created).toBe(true);
    expect(d.fsm.getBroker(1)).toBeDefined();
  });

  test("an index at or below the applied one is refused", () => {
    const d = cluster(1);
    const r = d.fsm.apply(encodeCommand({ clientId: "z", seq: 1, op: reg(2) }), d.index);
    expect(r.ok).toBe(false);
    expect(d.fsm.getBroker(2)).toBeUndefined();
  });
});

describe("versions, compare-and-set and exactly-once", () => {
  test("expectedVersion and expectedAssignmentVersion", () => {
    const d = cluster(2);
    expect(d.fsm.version).toBe(2);
    expect(d.run(reg(3), { expectedVersion: 1 })).toMatchObject({ ok: false, error: { code: "Conflict" } });
    expect(d.run(reg(3), { expectedVersion: 2 })).toMatchObject({ ok: true, version: 3 });
    const assign: Operation = { type: "applyAssignment", partitions: [{ topic: "t", partitionId: 0, replicas: [1] }], at: 1 };
    expect(d.run(assign, { expectedAssignmentVersion: 1 })).toMatchObject({ ok: false, error: { code: "Conflict" } });
    expect(d.run(assign, { expectedAssignmentVersion: 0 })).toMatchObject({ ok: true, assignmentVersion: 1 });
  });

  test("a retried (clientId, seq) returns the original result and applies once", () => {
    const d = new FsmDriver();
    const data = encodeCommand({ clientId: "c1", seq: 1, op: reg(1) });
    const first = d.raw(data);
    const second = d.raw(data);
    expect(second).toEqual(first);
    expect(d.fsm.getBroker(1)?.epoch).toBe(1);
    expect(d.events).toHaveLength(1);
    // A rejected request is remembered too: its retry gets the same error, even if it would now succeed.
    const bad = encodeCommand({ clientId: "c1", seq: 2, op: { type: "unregisterBroker", brokerId: 2 } });
    expect(d.raw(bad)).toMatchObject({ ok: false, error: { code: "NotFound" } });
    d.ok(reg(2));
    expect(d.raw(bad)).toMatchObject({ ok: false, error: { code: "NotFound" } });
    expect(d.fsm.getBroker(2)).toBeDefined();
  });

  test("the session table is bounded and acknowledged results are dropped", () => {
    const fsm = new MetadataFSM({ sessionLimits: { maxClients: 2, maxResultsPerClient: 3 } });
    const d = new FsmDriver(fsm);
    const cmd = (clientId: string, seq: number, ackBelow?: number) =>
      encodeCommand({ clientId, seq, ...(ackBelow ? { ackBelow } : {}), op: { type: "updateBrokerStatus", brokerId: 1, status: "ALIVE", at: seq } });
    d.ok(reg(1));
    for (let s = 1; s <= 5; s++) d.raw(cmd("a", s));
    // Only the last 3 results are kept: seq 1 is refused rather than applied again.
    expect(d.raw(cmd("a", 1))).toMatchObject({ ok: false, error: { code: "Conflict" } });
    expect(d.raw(cmd("a", 5)).ok).toBe(true);
    d.raw(cmd("a", 6, 6)); // acknowledges everything below 6
    expect(d.raw(cmd("a", 5))).toMatchObject({ ok: false, error: { code: "Conflict" } });
    d.raw(cmd("b", 1));
    d.raw(cmd("c", 1)); // three clients with a limit of two: "a" (least recently used) is forgotten
    const before = d.fsm.getBroker(1)!.lastHeartbeat;
    expect(d.raw(cmd("a", 6)).ok).toBe(true); // treated as new: the bound's documented price
    expect(d.fsm.getBroker(1)!.lastHeartbeat).toBe(before);
  });

  test("results applied out of seq order (a retry) are still refused below the floor and answered above it", () => {
    const fsm = new MetadataFSM();
    const d = new FsmDriver(fsm);
    const cmd = (seq: number, ackBelow?: number) =>
      encodeCommand({ clientId: "a", seq, ...(ackBelow ? { ackBelow } : {}), op: { type: "updateBrokerStatus", brokerId: 1, status: "ALIVE", at: seq } });
    d.ok(reg(1));
    d.raw(cmd(3));
    d.raw(cmd(1)); // applied after 3, as a retried request would be
    d.raw(cmd(4, 2)); // acknowledges seq 1
    const at = d.fsm.getBroker(1)!.lastHeartbeat;
    expect(d.raw(cmd(1))).toMatchObject({ ok: false, error: { code: "Conflict" } });
    expect(d.raw(cmd(3)).ok).toBe(true); // a duplicate: answered from the table, not applied again
    expect(d.fsm.getBroker(1)!.lastHeartbeat).toBe(at);
    d.raw(cmd(5, 5)); // acknowledges 3 and 4: the straggler behind them goes too
    expect(d.raw(cmd(3))).toMatchObject({ ok: false, error: { code: "Conflict" } });
  });
});

describe("snapshots", () => {
  function busy() {
    const d = cluster(4);
    d.ok(reg(9, 1, { rack: "r", tags: { b: "2", a: "1" }, capacity: 1.5, version: "3.1" }));
    d.ok({ type: "createTopic", name: "t", config: { retentionMs: 10 }, partitions: [{ partitionId: 0, replicas: [1, 2, 3] }], at: 2 });
    d.ok({ type: "beginReassignment", topic: "t", partitionId: 0, targetReplicas: [2, 3, 4] });
    d.ok({ type: "applyAssignment", partitions: [{ topic: "u", partitionId: 3, replicas: [4, 1] }], at: 3 });
    return d;
  }

  test("restore reproduces the whole state, sessions included; identical inputs give identical bytes", () => {
    const a = busy(), b = busy();
    expect(a.fsm.snapshot()).toEqual(b.fsm.snapshot());
    const copy = new MetadataFSM();
    copy.restore(a.fsm.snapshot());
    expect(snapshotOfState(copy)).toBe(snapshotOfState(a.fsm));
    expect(copy.appliedIndex).toBe(a.fsm.appliedIndex);
    expect(copy.snapshot()).toEqual(a.fsm.snapshot());
    // The session table came along: a retry of an already applied command is still answered from it.
    const retry = encodeCommand({ clientId: a.clientId, seq: 1, op: reg(1) });
    expect(copy.apply(retry, a.index + 1)).toMatchObject({ ok: true, value: { broker: { epoch: 1 } } });
    expect(copy.getBroker(1)?.epoch).toBe(1);
  });

  test("a CBOR snapshot of an earlier version restores to the same state as the JSON one", () => {
    const a = busy();
    const json = a.fsm.snapshot();
    expect(json[0]).toBe(0x7b); // "{"
    const old = cbor.encode(JSON.parse(new TextDecoder().decode(json)));
    const copy = new MetadataFSM();
    copy.restore(old);
    expect(snapshotOfState(copy)).toBe(snapshotOfState(a.fsm));
    expect(copy.snapshot()).toEqual(json);
  });

  test("restore tells subscribers what changed", () => {
    const source = busy();
    const target = new FsmDriver();
    target.ok(reg(1));
    target.ok(reg(7));
    target.events.length = 0;
    target.fsm.restore(source.fsm.snapshot());
    const types = target.events.map((e) => e.type);
    expect(types).toContain("brokerRemoved");
    expect(types.filter((t) => t === "brokerAdded")).toHaveLength(4); // 2, 3, 4, 9
    expect(types).toContain("topicCreated");
    expect(types).toContain("partitionsChanged");
  });

  test("a corrupt snapshot throws Corrupt and keeps the state", () => {
    const d = busy();
    const before = snapshotOfState(d.fsm);
    expect(() => d.fsm.restore(new Uint8Array([1, 2, 3]))).toThrow(/Corrupt|not valid CBOR/);
    expect(() => d.fsm.restore(new TextEncoder().encode('{"format":1,"index":'))).toThrow(/not valid JSON/);
    expect(() => d.fsm.restore(new TextEncoder().encode('{"format":1,"index":1,"version":1,"assignmentVersion":1,"brokers":[{}],"topics":[],"sessions":[]}')))
      .toThrow(/bad broker/);
    expect(() => d.fsm.restore(cbor.encode({ format: 1, index: 1, version: 1, assignmentVersion: 1, brokers: [{}], topics: [], sessions: [] })))
      .toThrow(/Corrupt|bad broker/);
    expect(snapshotOfState(d.fsm)).toBe(before);
  });
});
