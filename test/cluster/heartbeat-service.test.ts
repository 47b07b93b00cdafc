import { describe, expect, test } from "bun:test";
import { BrokerRegistry } from "../../src/cluster/broker-registry.ts";
import { HeartbeatService, type HeartbeatTarget } from "../../src/cluster/heartbeat-service.ts";
import { StreamBusError } from "../../src/errors.ts";
import { FakeCluster } from "../../src/testing/fake-cluster-store.ts";
import { ManualClock } from "../../src/testing/manual-clock.ts";
import { broker } from "./helpers.ts";

/** A target whose answers the test controls. */
function target(mode: { fail?: boolean; hang?: boolean } = {}) {
  const calls: number[] = [];
  const t: HeartbeatTarget & { calls: number[]; mode: typeof mode } = {
    calls,
    mode,
    recordHeartbeat(id) {
      calls.push(id);
      if (mode.hang) return new Promise(() => {});
      if (mode.fail) return Promise.reject(new StreamBusError("NoLeader", "no leader"));
      return Promise.resolve();
    },
  };
  return t;
}

describe("HeartbeatService", () => {
  test("start sends at once, then once per interval; stop ends it", async () => {
    const clock = new ManualClock();
    const t = target();
    const hb = new HeartbeatService(3, t, { clock });
    hb.setInterval(1_000);
    await hb.start();
    expect(t.calls).toEqual([3]);
    await clock.advanceAsync(3_500);
    expect(t.calls.length).toBe(4);
    await hb.stop();
    await clock.advanceAsync(5_000);
    expect(t.calls.length).toBe(4);
    expect(hb.stats()).toMatchObject({ sent: 4, succeeded: 4, failed: 0, consecutiveFailures: 0 });
  });

  test("failures are counted and reported, never thrown; a success resets the streak", async () => {
    const clock = new ManualClock();
    const t = target({ fail: true });
    const reported: number[] = [];
    const hb = new HeartbeatService(3, t, { clock, intervalMs: 1_000, onError: (_e, n) => reported.push(n) });
    await hb.start();
    await clock.advanceAsync(2_000);
    expect(reported).toEqual([1, 2, 3]);
    expect(hb.stats()).toMatchObject({ failed: 3, consecutiveFailures: 3 });
    expect((hb.stats().lastError as StreamBusError).code).toBe("NoLeader");
    t.mode.fail = false;
    await clock.advanceAsync(1_000);
    expect(hb.stats()).toMatchObject({ succeeded: 1, consecutiveFailures: 0 });
    await hb.stop();
  });

  test("a send that gets no answer times out, and ticks meanwhile are skipped rather than piled up", async () => {
    const clock = new ManualClock();
    const t = target({ hang: true });
    const errors: unknown[] = [];
    const hb = new HeartbeatService(3, t, { clock, intervalMs: 1_000, timeoutMs: 2_500, onError: (e) => errors.push(e) });
    const started = hb.start();
    await clock.advanceAsync(2_500);
    await started;
    expect(errors.length).toBe(1);
    expect((errors[0] as StreamBusError).code).toBe("Timeout");
    expect(hb.stats().skipped).toBe(2);
    expect(t.calls.length).toBe(1);
    await hb.stop();
  });

  test("a throwing onError does not break the service", async () => {
    const clock = new ManualClock();
    const hb = new HeartbeatService(3, target({ fail: true }), { clock, intervalMs: 1_000, onError: () => {
      throw new Error("bug");
    } });
    await hb.start();
    await clock.advanceAsync(1_000);
    expect(hb.stats().failed).toBe(2);
    await hb.stop();
  });

  test("bad settings are Invalid", () => {
    expect(() => new HeartbeatService(0, target())).toThrow(StreamBusError);
    const hb = new HeartbeatService(1, target());
    expect(() => hb.setInterval(-1)).toThrow(StreamBusError);
    expect(() => hb.setTimeout(Number.POSITIVE_INFINITY)).toThrow(StreamBusError);
  });

  test("drives a registry: ALIVE on start, FAILED after it stops, ALIVE again when restarted", async () => {
    const cluster = new FakeCluster([1, 2], { leader: 1 });
    const clock = new ManualClock();
    const leader = new BrokerRegistry(cluster.node(1), { clock, recoveryPeriodMs: 10_000 });
    const follower = new BrokerRegistry(cluster.node(2), { clock });
    await leader.start();
    await follower.start();
    await follower.registerBroker(broker(4));
    const hb = new HeartbeatService(4, follower, { clock, intervalMs: 10_000 });
    await hb.start();
    expect((await follower.getBroker(4)).status).toBe("ALIVE");
    await clock.advanceAsync(120_000);
    expect((await follower.getBroker(4)).status).toBe("ALIVE");
    await hb.stop();
    await clock.advanceAsync(40_000);
    expect((await follower.getBroker(4)).status).toBe("FAILED");
    await hb.start();
    await clock.advanceAsync(10_000);
    expect((await follower.getBroker(4)).status).toBe("ALIVE");
    await hb.stop();
  });
});
