/**
 * A cluster of RaftNodes in one process for tests: MemoryNetwork links, MemoryStorage disks that survive
 * restarts, and one ManualClock driving every node. Other layers' tests (metadata, cluster) build on it.
 *
 * @example
 * const c = new TestCluster({ size: 3, fsm: () => new MyFsm() });
 * await c.start();
 * const leader = await c.waitForLeader();
 * await leader.node.propose(bytes);
 */
import { defaultConfig } from "../raft/config.ts";
import { RaftNode } from "../raft/raft-node.ts";
import type { Peer, RaftConfig, StateMachine } from "../raft/types.ts";
import type { Logger } from "../logger.ts";
import { seededRandom } from "../rng.ts";
import { ManualClock } from "./manual-clock.ts";
import { MemoryStorage } from "./memory-storage.ts";
import { MemoryNetwork } from "./memory-transport.ts";

export interface TestClusterOptions<F extends StateMachine> {
  /** Number of initial voters, ids 1..size. */
  size: number;
  fsm: (id: number) => F;
  /** Overrides on top of the fast test defaults (electionTimeout 100, heartbeat 20, tick 10 ms). */
  config?: Partial<RaftConfig>;
  seed?: number;
  logger?: (id: number) => Logger;
}

export interface TestMember<F extends StateMachine> {
  id: number;
  node: RaftNode;
  fsm: F;
  storage: MemoryStorage;
  running: boolean;
}

/** Fast timings for tests: elections in ~100-200 ms of simulated time. */
export function testConfig(id: number, peers: Peer[], over: Partial<RaftConfig> = {}): RaftConfig {
  return {
    ...defaultConfig(),
    electionTimeout: 100,
    heartbeatInterval: 20,
    tickInterval: 10,
    ...over,
    nodeId: id,
    dataDir: `mem://node-${id}`,
    peers: peers.map((p) => ({ ...p })),
  };
}

export class TestCluster<F extends StateMachine> {
  readonly clock = new ManualClock();
  readonly network = new MemoryNetwork();
  readonly members = new Map<number, TestMember<F>>();
  peers: Peer[];
  private readonly seed: number;

  constructor(private readonly opts: TestClusterOptions<F>) {
    this.seed = opts.seed ?? 1;
    this.peers = Array.from({ length: opts.size }, (_, i) => ({ id: i + 1, addr: `mem-${i + 1}` }));
  }

  /** Creates and starts nodes 1..size. */
  async start(): Promise<void> {
    for (const p of this.peers) await this.startNode(p.id);
  }

  /**
   * Starts node `id` (again) on its stored disk. `peers` defaults to the cluster's initial list; a new
   * member joining passes the configuration it joins (including itself).
   */
  async startNode(id: number, peers: Peer[] = this.peers, storage?: MemoryStorage, config: Partial<RaftConfig> = {}): Promise<TestMember<F>> {
    const prev = this.members.get(id);
    if (prev?.running) throw new Error(`node ${id} is already running`);
    const disk = storage ?? (prev ? prev.storage.clone() : new MemoryStorage());
    const fsm = this.opts.fsm(id);
    const node = new RaftNode(testConfig(id, peers, { ...this.opts.config, ...config }), fsm, {
      storage: disk,
      transport: this.network.transport(),
      clock: this.clock,
      random: seededRandom(this.seed * 1000 + id * 17 + (prev ? 7919 : 0)),
      logger: this.opts.logger?.(id),
    });
    const m: TestMember<F> = { id, node, fsm, storage: disk, running: true };
    this.members.set(id, m);
    await node.start();
    return m;
  }

  /** Stops node `id` (its disk is kept for a restart). */
  async stopNode(id: number): Promise<void> {
    const m = this.member(id);
    m.running = false;
    await m.node.stop();
  }

  /** Stops and starts node `id` on a copy of its disk (a restart loses nothing that was durable). */
  async restartNode(id: number): Promise<TestMember<F>> {
    const m = this.member(id);
    if (m.running) await this.stopNode(id);
    return this.startNode(id);
  }

  member(id: number): TestMember<F> {
    const m = this.members.get(id);
    if (!m) throw new Error(`no node ${id} in the test cluster`);
    return m;
  }

  running(): TestMember<F>[] {
    return [...this.members.values()].filter((m) => m.running).sort((a, b) => a.id - b.id);
  }

  /** The running node that is leader and that every other running, connected node agrees on (if any). */
  leader(among: number[] = this.running().map((m) => m.id)): TestMember<F> | undefined {
    const leaders = among.map((id) => this.member(id)).filter((m) => m.running && m.node.isLeader());
    if (leaders.length === 0) return undefined;
    // During a partition two nodes may think they lead (different terms): take the highest term.
    return leaders.sort((a, b) => b.node.term - a.node.term)[0];
  }

  /** Advances simulated time until a leader exists among `among` that all of them follow. */
  async waitForLeader(among: number[] = this.running().map((m) => m.id), maxMs = 10_000): Promise<TestMember<F>> {
    let found: TestMember<F> | undefined;
    await this.clock.runUntil(() => {
      const l = this.leader(among);
      if (!l) return false;
      if (!among.every((id) => this.member(id).node.leaderId() === l.id)) return false;
      found = l;
      return true;
    }, { maxMs, what: `a leader agreed by nodes ${among.join(",")}` });
    return found!;
  }

  /** Advances simulated time until `cond` holds. */
  until(cond: () => boolean, what = "condition", maxMs = 10_000): Promise<void> {
    return this.clock.runUntil(cond, { maxMs, what });
  }

  /** Awaits `p` while advancing simulated time (timers of the nodes keep firing). */
  async settle<T>(p: Promise<T>, maxMs = 30_000): Promise<T> {
    let done = false;
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    p.then((v) => { done = true; value = v; }, (e) => { done = true; failed = true; error = e; });
    await this.clock.runUntil(() => done, { maxMs, what: "the operation to settle" });
    if (failed) throw error;
    return value as T;
  }

  /** Stops every running node. */
  async stopAll(): Promise<void> {
    for (const m of this.running()) await this.stopNode(m.id);
  }
}
