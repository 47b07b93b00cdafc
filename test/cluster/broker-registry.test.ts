import { describe, expect, test } from "bun:test";
import { BrokerRegistry } from "../../src/cluster/broker-registry.ts";
import type { BrokerMetadata, BrokerStatus } from "../../src/cluster/types.ts";
import { FakeCluster } from "../../src/testing/fake-cluster-store.ts";
import { ManualClock } from "../../src/testing/manual-clock.ts";
import { broker, expectCode } from "./helpers.ts";

interface Seen {
  added: number[];
  removed: number[];
  failed: number[];
  recovered: number[];
  status: string[];
}

async function setup(opts: { recoveryPeriodMs?: number } = {}) {
  const cluster = new FakeCluster([1, 2, 3], { leader: 1 });
  const clock = new ManualClock(1_000);
  const seen = new Map<number, Seen>();
  const regs = new Map<number, BrokerRegistry>();
  for (const id of [1, 2, 3]) {
    const r = new BrokerRegistry(cluster.node(id), { clock, recoveryPeriodMs: opts.recoveryPeriodMs });
    const s: Seen = { added: [], removed: [], failed: [], recovered: [], status: [] };
    r.setOnBrokerAdded((b) => s.added.push(b.id));
    r.setOnBrokerRemoved((id) => s.removed.push(id));
    r.setOnBrokerFailed((id) => s.failed.push(id));
    r.setOnBrokerRecovered((b) => s.recovered.push(b.id));
    r.setOnBrokerStatusChanged((b, prev) => s.status.push(`${b.id}:${prev}->${b.status}`));
    await r.start();
    regs.set(id, r);
    seen.set(id, s);
  }
  const status = async (id: number, node = 1): Promise<BrokerStatus | undefined> =>
    (await regs.get(node)!.getBroker(id)).status;
  return { cluster, clock, regs, seen, status, leader: regs.get(1)!, follower: regs.get(2)! };
}

describe("BrokerRegistry", () => {
  test("registration goes through the store, fires brokerAdded on every node, and re-registration bumps the epoch", async () => {
    const { cluster, regs, seen, follower } = await setup();
    const r1 = await follower.registerBroker(broker(7, { rack: "r1", tags: { dc: "west" }, capacity: 2 }));
    expect(r1.created).toBe(true);
    expect(r1.broker.epoch).toBe(1);
    expect(r1.broker.status).toBe("STARTING");
    for (const id of [1, 2, 3]) expect(seen.get(id)!.added).toEqual([7]);
    const again = await regs.get(3)!.registerBroker(broker(7, { rack: "r2" }));
    expect(again.created).toBe(false);
    expect(again.broker.epoch).toBe(2);
    for (const id of [1, 2, 3]) expect(seen.get(id)!.added).toEqual([7]);
    const stored = await regs.get(1)!.getBroker(7);
    expect(stored.rack).toBe("r2");
    expect(cluster.writes.filter((w) => w.op === "storeBroker").length).toBe(2);
  });

  test("bad registrations are Invalid and change nothing", async () => {
    const { cluster, leader } = await setup();
    await expectCode(leader.registerBroker({ id: 0, host: "h", port: 1 }), "Invalid");
    await expectCode(leader.registerBroker({ id: 1, host: "", port: 1 }), "Invalid");
    await expectCode(leader.registerBroker({ id: 1, host: "h", port: 70000 }), "Invalid");
    await expectCode(leader.registerBroker({ id: 1, host: "h", port: 1, capacity: -1 }), "Invalid");
    expect(cluster.writes.length).toBe(0);
  });

  test("caller-given status is ignored: a new broker starts STARTING", async () => {
    const { leader } = await setup();
    const r = await leader.registerBroker({ ...broker(4), status: "ALIVE", epoch: 99 });
    expect(r.broker.status).toBe("STARTING");
    expect(r.broker.epoch).toBe(1);
  });

  test("first heartbeat makes a broker ALIVE; a follower's heartbeat is forwarded to the leader", async () => {
    const { cluster, status, follower, seen } = await setup();
    await follower.registerBroker(broker(5));
    await follower.recordHeartbeat(5);
    expect(await status(5)).toBe("ALIVE");
    expect(cluster.writes.at(-1)).toMatchObject({ op: "updateStatus", node: 1 });
    for (const id of [1, 2, 3]) expect(seen.get(id)!.status).toEqual(["5:STARTING->ALIVE"]);
    // Heartbeats themselves are not written.
    const n = cluster.writes.length;
    await follower.recordHeartbeat(5);
    await follower.recordHeartbeat(5);
    expect(cluster.writes.length).toBe(n);
  });

  test("heartbeat of an unknown broker is NotFound on the leader and on a follower", async () => {
    const { leader, follower } = await setup();
    await expectCode(leader.recordHeartbeat(42), "NotFound");
    await expectCode(follower.recordHeartbeat(42), "NotFound");
  });

  test("a heartbeat with an epoch older than the registered one is a Conflict", async () => {
    const { leader } = await setup();
    await leader.registerBroker(broker(5));
    await leader.registerBroker(broker(5));
    await expectCode(leader.recordHeartbeat(5, { epoch: 1 }), "Conflict");
    await leader.recordHeartbeat(5, { epoch: 2 });
  });

  test("the leader shows the latest heartbeat time in lastHeartbeat", async () => {
    const { clock, leader, follower } = await setup();
    await leader.registerBroker(broker(5));
    await clock.advanceAsync(2_000);
    await follower.recordHeartbeat(5);
    expect((await leader.getBroker(5)).lastHeartbeat).toBe(clock.now());
  });

  test("an ALIVE broker silent for the timeout becomes FAILED, detected by the leader, seen on every node", async () => {
    const { cluster, clock, leader, status, seen } = await setup();
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    const t0 = clock.now();
    await clock.advanceAsync(30_000); // checks at +5..+30: silent 30 s is not yet "more than" the timeout
    expect(await status(5)).toBe("ALIVE");
    await clock.advanceAsync(5_000);
    expect(await status(5)).toBe("FAILED");
    expect(clock.now() - t0).toBe(35_000);
    for (const id of [1, 2, 3]) expect(seen.get(id)!.failed).toEqual([5]);
    const failWrites = cluster.writes.filter((w) => w.op === "updateStatus" && (w.detail as { status: string }).status === "FAILED");
    expect(failWrites.map((w) => w.node)).toEqual([1]); // only the leader proposed it, once
  });

  test("followers never run health checks", async () => {
    const { cluster, clock, leader, status } = await setup();
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    cluster.setLeader(undefined);
    await clock.advanceAsync(120_000);
    expect(cluster.brokers.get(5)!.status).toBe("ALIVE");
  });

  test("STARTING and DRAINING brokers are not failed by the health check", async () => {
    const { clock, leader, status } = await setup();
    await leader.registerBroker(broker(5));
    await leader.registerBroker(broker(6));
    await leader.recordHeartbeat(6);
    await leader.markDraining(6);
    await clock.advanceAsync(120_000);
    expect(await status(5)).toBe("STARTING");
    expect(await status(6)).toBe("DRAINING");
  });

  test("start without a leader does not fail; the brokers load once a leader is there", async () => {
    const cluster = new FakeCluster([1, 2], { leader: 1 });
    const clock = new ManualClock();
    await cluster.node(1).storeBrokerMetadata(broker(5));
    cluster.setLeader(undefined);
    const r = new BrokerRegistry(cluster.node(2), { clock });
    await r.start();
    expect(await r.listBrokers({ consistency: "stale" })).toEqual([]);
    await expectCode(r.listBrokers(), "NoLeader");
    await expectCode(r.recordHeartbeat(5), "NoLeader");
    cluster.setLeader(1);
    await clock.advanceAsync(5_000);
    expect((await r.listBrokers({ consistency: "stale" })).map((b) => b.id)).toEqual([5]);
    await r.stop();
  });

  test("setHeartbeatTimeout and setCheckInterval change detection time", async () => {
    const { clock, regs, leader, status } = await setup();
    for (const r of regs.values()) {
      r.setHeartbeatTimeout(3_000);
      r.setCheckInterval(1_000);
    }
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    await clock.advanceAsync(3_000);
    expect(await status(5)).toBe("ALIVE");
    await clock.advanceAsync(1_000);
    expect(await status(5)).toBe("FAILED");
    expect(() => leader.setHeartbeatTimeout(0)).toThrow();
    expect(() => leader.setCheckInterval(Number.NaN)).toThrow();
  });

  test("hysteresis: a FAILED broker comes back only after heartbeating steadily for the recovery period", async () => {
    const { clock, leader, status, seen } = await setup({ recoveryPeriodMs: 10_000 });
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    await clock.advanceAsync(35_000);
    expect(await status(5)).toBe("FAILED");
    await leader.recordHeartbeat(5);
    expect(await status(5)).toBe("FAILED"); // one heartbeat is not enough
    await clock.advanceAsync(5_000);
    await leader.recordHeartbeat(5);
    expect(await status(5)).toBe("FAILED");
    await clock.advanceAsync(5_000);
    await leader.recordHeartbeat(5);
    expect(await status(5)).toBe("ALIVE");
    for (const id of [1, 2, 3]) expect(seen.get(id)!.recovered).toEqual([5]);
  });

  test("hysteresis: a gap longer than the timeout restarts the recovery period", async () => {
    const { clock, leader, status } = await setup({ recoveryPeriodMs: 10_000 });
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    await clock.advanceAsync(35_000);
    await leader.recordHeartbeat(5);
    await clock.advanceAsync(31_000);
    await leader.recordHeartbeat(5); // 31 s after the previous one: starts over
    expect(await status(5)).toBe("FAILED");
    await clock.advanceAsync(10_000);
    await leader.recordHeartbeat(5);
    expect(await status(5)).toBe("ALIVE");
  });

  test("with recovery period 0 a FAILED broker is ALIVE on its next heartbeat", async () => {
    const { clock, leader, status } = await setup({ recoveryPeriodMs: 0 });
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    await clock.advanceAsync(35_000);
    expect(await status(5)).toBe("FAILED");
    await leader.recordHeartbeat(5);
    expect(await status(5)).toBe("ALIVE");
  });

  test("a new leader gives every broker one full timeout before failing it", async () => {
    const { cluster, clock, regs, leader, status } = await setup();
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    await clock.advanceAsync(25_000); // quiet for 25 s under leader 1
    cluster.setLeader(2);
    await clock.advanceAsync(25_000); // 50 s quiet in all, but only 25 s under leader 2
    expect(await status(5)).toBe("ALIVE");
    await clock.advanceAsync(10_000);
    expect(await status(5)).toBe("FAILED");
    const failer = cluster.writes.find((w) => w.op === "updateStatus" && (w.detail as { status: string }).status === "FAILED");
    expect(failer?.node).toBe(2);
    expect(regs.size).toBe(3);
  });

  test("heartbeats sent after a leader change reach the new leader", async () => {
    const { cluster, clock, regs, status } = await setup();
    await regs.get(3)!.registerBroker(broker(5));
    await regs.get(3)!.recordHeartbeat(5);
    cluster.setLeader(2);
    for (let i = 0; i < 10; i++) {
      await clock.advanceAsync(10_000);
      await regs.get(3)!.recordHeartbeat(5);
    }
    expect(await status(5)).toBe("ALIVE");
  });

  test("user callbacks and added listeners both fire; a throwing callback does not stop the others", async () => {
    const { leader } = await setup();
    const got: string[] = [];
    leader.setOnBrokerAdded(() => {
      throw new Error("user bug");
    });
    const off = leader.addListener({ brokerAdded: (b) => got.push(`a${b.id}`), brokerRemoved: (id) => got.push(`r${id}`) });
    leader.addListener({ brokerAdded: (b) => got.push(`b${b.id}`) });
    await leader.registerBroker(broker(5));
    off();
    await leader.deregisterBroker(5);
    expect(got).toEqual(["a5", "b5"]);
  });

  test("deregistration fires brokerRemoved on every node; unknown id is NotFound", async () => {
    const { regs, seen } = await setup();
    await regs.get(1)!.registerBroker(broker(5));
    await regs.get(3)!.deregisterBroker(5);
    for (const id of [1, 2, 3]) expect(seen.get(id)!.removed).toEqual([5]);
    await expectCode(regs.get(1)!.getBroker(5), "NotFound");
    await expectCode(regs.get(2)!.deregisterBroker(5), "NotFound");
  });

  test("drain statuses: DRAINING then DECOMMISSIONED; wrong order is Invalid", async () => {
    const { leader, status } = await setup();
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    await expectCode(leader.markDecommissioned(5), "Invalid");
    await leader.markDraining(5);
    expect(await status(5)).toBe("DRAINING");
    await leader.markDecommissioned(5);
    expect(await status(5, 3)).toBe("DECOMMISSIONED");
    await expectCode(leader.markDraining(5), "Invalid");
  });

  test("re-registering an ALIVE broker keeps it ALIVE; a DECOMMISSIONED one comes back STARTING", async () => {
    const { leader, status } = await setup();
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    await leader.registerBroker(broker(5, { version: "2.0" }));
    expect(await status(5)).toBe("ALIVE");
    await leader.markDraining(5);
    await leader.markDecommissioned(5);
    await leader.registerBroker(broker(5));
    expect(await status(5)).toBe("STARTING");
  });

  test("listActiveBrokers lists ALIVE brokers in id order; stale reads answer from the local cache", async () => {
    const { leader, follower } = await setup();
    for (const id of [9, 3, 6]) await leader.registerBroker(broker(id));
    await leader.recordHeartbeat(9);
    await leader.recordHeartbeat(3);
    expect((await follower.listActiveBrokers()).map((b) => b.id)).toEqual([3, 9]);
    expect((await follower.listBrokers({ consistency: "stale" })).map((b) => b.id)).toEqual([3, 6, 9]);
    expect((await follower.getBroker(6, { consistency: "stale" })).status).toBe("STARTING");
  });

  test("a registry started after brokers exist loads them and detects their failure", async () => {
    const cluster = new FakeCluster([1], { leader: 1 });
    const clock = new ManualClock();
    const early = new BrokerRegistry(cluster.node(1), { clock });
    await early.start();
    await early.registerBroker(broker(5));
    await early.recordHeartbeat(5);
    await early.stop();
    const late = new BrokerRegistry(cluster.node(1), { clock });
    const failed: number[] = [];
    late.setOnBrokerFailed((id) => failed.push(id));
    await late.start();
    expect((await late.listBrokers({ consistency: "stale" })).map((b: BrokerMetadata) => b.id)).toEqual([5]);
    await clock.advanceAsync(35_000);
    expect(failed).toEqual([5]);
  });

  test("stop ends health checks and forwarded heartbeats are refused", async () => {
    const { clock, leader, follower, status } = await setup();
    await leader.registerBroker(broker(5));
    await leader.recordHeartbeat(5);
    await leader.stop();
    await clock.advanceAsync(60_000);
    expect(await status(5)).toBe("ALIVE");
    await expectCode(follower.recordHeartbeat(5), "Unavailable");
  });
});
