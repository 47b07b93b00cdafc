/**
 * The integration guide's flows on a simulated three-node Raft cluster (memory network and disks, one
 * ManualClock): every node runs its own MetadataStore, ClusterMetadataStore, BrokerRegistry and
 * ClusterCoordinator, as CONTRACT.md §1 describes. The Raft seed is 7; FLOW_SEED=<n> replays another.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { BrokerRegistry } from "../../src/cluster/broker-registry.ts";
import { ClusterCoordinator, type ClusterCoordinatorOptions } from "../../src/cluster/cluster-coordinator.ts";
import { HeartbeatService } from "../../src/cluster/heartbeat-service.ts";
import type { AssignmentStrategy } from "../../src/cluster/types.ts";
import { ClusterMetadataStore } from "../../src/metadata/cluster-metadata-store.ts";
import { MetadataFSM } from "../../src/metadata/metadata-fsm.ts";
import { MetadataStore } from "../../src/metadata/metadata-store.ts";
import { TestCluster } from "../../src/testing/raft-cluster.ts";
import { broker } from "./helpers.ts";
import { strategyForFlows } from "./flow-strategy.ts";

interface NodeSide {
  id: number;
  fsm: MetadataFSM;
  store: ClusterMetadataStore;
  registry: BrokerRegistry;
  coordinator: ClusterCoordinator;
  events: string[];
}

let running: { stop(): Promise<void> } | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function bootCluster(opts: { coordinator?: ClusterCoordinatorOptions; strategy?: () => AssignmentStrategy; seed?: number } = {}) {
  const c = new TestCluster({ size: 3, fsm: () => new MetadataFSM(), seed: opts.seed ?? Number(process.env.FLOW_SEED ?? 7) });
  await c.start();
  await c.waitForLeader();
  const sides = new Map<number, NodeSide>();
  for (const m of c.running()) {
    const ms = new MetadataStore(m.fsm, m.node, { clock: c.clock, now: () => c.clock.now(), timeoutMs: 5_000 });
    const store = new ClusterMetadataStore(ms);
    const registry = new BrokerRegistry(store, { clock: c.clock, heartbeatTimeoutMs: 3_000, checkIntervalMs: 500, recoveryPeriodMs: 1_000 });
    const events: string[] = [];
    registry.setOnBrokerAdded((b) => events.push(`added ${b.id}`));
    registry.setOnBrokerFailed((id) => events.push(`failed ${id}`));
    registry.setOnBrokerRemoved((id) => events.push(`removed ${id}`));
    registry.setOnBrokerStatusChanged((b, prev) => events.push(`${b.id} ${prev}->${b.status}`));
    const strategy = (opts.strategy ?? strategyForFlows)();
    const coordinator = new ClusterCoordinator(registry, strategy, store, { clock: c.clock, ...opts.coordinator });
    await c.settle(registry.start());
    await c.settle(coordinator.start());
    sides.set(m.id, { id: m.id, fsm: m.fsm, store, registry, coordinator, events });
  }
  const beats: HeartbeatService[] = [];
  /** A broker registered through node `via` and kept alive by a HeartbeatService talking to that node's registry. */
  const addBroker = async (id: number, via: number) => {
    const side = sides.get(via)!;
    await c.settle(side.registry.registerBroker(broker(id)));
    const hb = new HeartbeatService(id, side.registry, { clock: c.clock, intervalMs: 1_000 });
    await c.settle(hb.start());
    beats.push(hb);
    return hb;
  };
  const leaderSide = () => sides.get(c.leader()!.id)!;
  /** Placements as each node's own FSM holds them. */
  const placements = (id: number) => JSON.stringify(sides.get(id)!.fsm.listPlacements());
  const allAgree = () => [1, 2, 3].every((id) => placements(id) === placements(1));
  const loadsOn = (id: number) => {
    const counts: Record<number, number> = {};
    for (const p of sides.get(id)!.fsm.listPlacements()) for (const r of p.replicas) counts[r] = (counts[r] ?? 0) + 1;
    return counts;
  };
  const statusOn = (node: number, brokerId: number) => sides.get(node)!.fsm.getBroker(brokerId)?.status;
  const stop = async () => {
    for (const hb of beats) await hb.stop();
    for (const s of sides.values()) {
      await s.coordinator.stop();
      await s.registry.stop();
    }
    await c.stopAll();
  };
  running = { stop };
  return { c, sides, addBroker, leaderSide, allAgree, loadsOn, statusOn, placements };
}

const followerOf = (c: TestCluster<MetadataFSM>) => c.running().find((m) => !m.node.isLeader())!.id;

describe("cluster flows on three Raft nodes", () => {
  test("Example 1: registration through a follower is replicated; brokerAdded and ALIVE fire on every node", async () => {
    const { c, sides, addBroker, statusOn } = await bootCluster();
    const via = followerOf(c);
    await addBroker(1, via);
    await c.until(() => [1, 2, 3].every((n) => statusOn(n, 1) === "ALIVE"), "broker 1 ALIVE everywhere");
    for (const s of sides.values()) {
      expect(s.events).toEqual(["added 1", "1 STARTING->ALIVE"]);
      expect(s.fsm.getBroker(1)).toMatchObject({ host: "localhost", port: 9091, epoch: 1 });
    }
  });

  test("Example 2: heartbeats stop → FAILED → rebalance; replicas leave it, stored in Raft, seen on every node", async () => {
    const { c, sides, addBroker, leaderSide, allAgree, loadsOn, statusOn } = await bootCluster();
    const hbs = [];
    for (const id of [1, 2, 3, 4]) hbs.push(await addBroker(id, 1 + (id % 3)));
    await c.until(() => [1, 2, 3, 4].every((b) => statusOn(1, b) === "ALIVE"), "all brokers ALIVE");
    await c.settle(leaderSide().coordinator.createTopic("events", 8, 3));
    await c.until(allAgree, "placements replicated");
    expect(loadsOn(1)[4]).toBeGreaterThan(0);

    await hbs[3]!.stop(); // broker 4 goes quiet
    await c.until(() => [1, 2, 3].every((n) => statusOn(n, 4) === "FAILED"), "broker 4 FAILED on every node", 20_000);
    await c.until(() => [1, 2, 3].every((n) => loadsOn(n)[4] === undefined) && allAgree(), "replicas moved off broker 4", 20_000);
    expect(loadsOn(2)).toEqual({ 1: 8, 2: 8, 3: 8 });
    for (const s of sides.values()) expect(s.events).toContain("failed 4");
    // Only the Raft leader's coordinator rebalanced.
    const rebalanced = [...sides.values()].filter((s) => s.coordinator.stats().rebalances > 0).map((s) => s.id);
    expect(rebalanced).toEqual([leaderSide().id]);
  });

  test("a FAILED broker that heartbeats again recovers on every node and gets its share back", async () => {
    const { c, sides, addBroker, allAgree, loadsOn, statusOn } = await bootCluster();
    const hbs = [];
    for (const id of [1, 2, 3, 4]) hbs.push(await addBroker(id, 1 + (id % 3)));
    await c.until(() => [1, 2, 3, 4].every((b) => statusOn(1, b) === "ALIVE"), "all brokers ALIVE");
    await c.settle(sides.get(followerOf(c))!.coordinator.createTopic("events", 8, 3));
    await hbs[3]!.stop();
    await c.until(() => [1, 2, 3].every((n) => loadsOn(n)[4] === undefined), "replicas moved off broker 4", 20_000);
    await c.settle(hbs[3]!.start());
    await c.until(
      () => [1, 2, 3].every((n) => statusOn(n, 4) === "ALIVE") && JSON.stringify(loadsOn(1)) === JSON.stringify({ 1: 6, 2: 6, 3: 6, 4: 6 }) && allAgree(),
      "broker 4 back with 6 replicas",
      20_000,
    );
    for (const s of sides.values()) expect(s.events.filter((e) => e.startsWith("4 "))).toEqual(["4 STARTING->ALIVE", "4 ALIVE->FAILED", "4 FAILED->ALIVE"]);
  });

  test("Example 3: adding a broker moves the minimum (4 moves, loads 4/4/4, leaders 2/2/2) once it is ALIVE", async () => {
    const { c, sides, addBroker, leaderSide, allAgree, loadsOn, statusOn } = await bootCluster();
    await addBroker(1, 1);
    await addBroker(2, 2);
    await c.until(() => statusOn(1, 1) === "ALIVE" && statusOn(1, 2) === "ALIVE", "brokers 1, 2 ALIVE");
    await c.settle(leaderSide().coordinator.createTopic("t", 6, 2));
    await c.until(allAgree, "placements replicated");
    expect(loadsOn(1)).toEqual({ 1: 6, 2: 6 });
    await addBroker(3, 3);
    await c.until(() => JSON.stringify(loadsOn(3)) === JSON.stringify({ 1: 4, 2: 4, 3: 4 }) && allAgree(), "loads 4/4/4", 20_000);
    const r = leaderSide().coordinator.stats().lastResult!;
    expect(r.moves).toBe(4);
    expect(r.minimumMoves).toBe(4);
    const leaders: Record<number, number> = {};
    for (const p of sides.get(2)!.fsm.listPlacements()) leaders[p.leader] = (leaders[p.leader] ?? 0) + 1;
    expect(leaders).toEqual({ 1: 2, 2: 2, 3: 2 });
  });

  test("a leader change in the middle of a rebalance: the new leader finishes it", async () => {
    let transferred = false;
    let cluster: TestCluster<MetadataFSM> | undefined;
    const { c, sides, addBroker, leaderSide, allAgree, loadsOn, statusOn } = await bootCluster({
      coordinator: {
        limits: { maxMovesPerBroker: 1, maxMovesPerStep: 1 },
        awaitStep: async () => {
          if (transferred || !cluster) return;
          transferred = true;
          const from = cluster.leader()!;
          const to = cluster.running().find((m) => m.id !== from.id)!.id;
          await from.node.transferLeadership(to); // after the first step only
        },
      },
    });
    cluster = c;
    await addBroker(1, 1);
    await addBroker(2, 2);
    await c.until(() => statusOn(1, 1) === "ALIVE" && statusOn(1, 2) === "ALIVE", "brokers 1, 2 ALIVE");
    const first = leaderSide();
    await c.settle(first.coordinator.createTopic("t", 6, 2));
    await addBroker(3, 3);
    await c.until(() => transferred && c.leader() !== undefined && c.leader()!.id !== first.id, "leadership moved mid-rebalance", 20_000);
    await c.until(() => JSON.stringify(loadsOn(1)) === JSON.stringify({ 1: 4, 2: 4, 3: 4 }) && allAgree(), "rebalance finished", 30_000);
    const second = leaderSide();
    expect(first.coordinator.stats().lastResult?.applied).toBe(false);
    expect(first.coordinator.stats().lastResult?.stepsApplied).toBe(1);
    expect(second.coordinator.stats().rebalances).toBeGreaterThan(0);
    // No broker was failed by the leader change: the new leader gave everyone a full timeout.
    for (const s of sides.values()) expect(s.events.some((e) => e.startsWith("failed"))).toBe(false);
  });

  test("the leader crashes in the middle of a rebalance: a survivor takes over and finishes it", async () => {
    let crashed: number | undefined;
    let cluster: TestCluster<MetadataFSM> | undefined;
    const { c, sides, addBroker, loadsOn, statusOn } = await bootCluster({
      coordinator: {
        limits: { maxMovesPerBroker: 1, maxMovesPerStep: 1 },
        awaitStep: async () => {
          if (crashed !== undefined || !cluster) return;
          crashed = cluster.leader()!.id;
          void cluster.stopNode(crashed); // kill -9 after the first step
        },
      },
    });
    cluster = c;
    const first = c.leader()!.id;
    const via = c.running().find((m) => m.id !== first)!.id; // heartbeats go through a node that survives
    await addBroker(1, via);
    await addBroker(2, via);
    await c.until(() => statusOn(via, 1) === "ALIVE" && statusOn(via, 2) === "ALIVE", "brokers 1, 2 ALIVE");
    await c.settle(sides.get(via)!.coordinator.createTopic("t", 6, 2));
    await addBroker(3, via);
    const survivors = [1, 2, 3].filter((n) => n !== first);
    await c.until(
      () => crashed !== undefined && JSON.stringify(loadsOn(via)) === JSON.stringify({ 1: 4, 2: 4, 3: 4 }) &&
        placementsEqual(survivors),
      "rebalance finished by a survivor",
      30_000,
    );
    expect(crashed).toBe(first);
    expect(survivors.some((n) => sides.get(n)!.coordinator.stats().rebalances > 0)).toBe(true);
    for (const n of survivors) expect(sides.get(n)!.events.some((e) => e.startsWith("failed"))).toBe(false);

    function placementsEqual(ids: number[]) {
      const p = ids.map((id) => JSON.stringify(sides.get(id)!.fsm.listPlacements()));
      return p.every((x) => x === p[0]);
    }
  });

  test("drain through a follower: replicas leave, the broker ends DECOMMISSIONED on every node", async () => {
    const { c, sides, addBroker, allAgree, loadsOn, statusOn } = await bootCluster();
    for (const id of [1, 2, 3, 4]) await addBroker(id, 1 + (id % 3));
    await c.until(() => [1, 2, 3, 4].every((b) => statusOn(1, b) === "ALIVE"), "all brokers ALIVE");
    const via = sides.get(followerOf(c))!;
    await c.settle(via.coordinator.createTopic("t", 4, 3));
    await c.settle(via.coordinator.drainBroker(2));
    await c.until(() => [1, 2, 3].every((n) => statusOn(n, 2) === "DECOMMISSIONED") && allAgree(), "drained");
    expect(loadsOn(3)[2]).toBeUndefined();
    for (const s of sides.values()) expect(s.events).toContain("2 DRAINING->DECOMMISSIONED");
  });
});
