import { isStreamBusError, StreamBusError } from "../errors.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { type Clock, every, systemClock } from "../ports/clock.ts";
import { Assignment } from "./assignment.ts";
import { type AssignmentStats, assignmentStats, minimumMoves } from "./strategies/stats.ts";
import { isEligible } from "./strategies/model.ts";
import type { BrokerRegistry } from "./broker-registry.ts";
import { nonNegative, normalizeConstraints, positive, validatePartitions } from "./cluster-input.ts";
import { DEFAULT_MOVEMENT_LIMITS, type MovementLimits, planMovement, validateLimits } from "./movement-plan.ts";
import type {
  AssignmentConstraints,
  AssignmentStrategy,
  BrokerStatus,
  ClusterStore,
  PartitionInfo,
  TopicConfig,
  TopicState,
} from "./types.ts";

export const REBALANCE_METHOD = "coordinator.rebalance";
export const DRAIN_METHOD = "coordinator.drain";
export const DEFAULT_REBALANCE_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_REBALANCE_THRESHOLD = 2;

/** What a rebalance did (or, with dryRun, would do). Plain data: it crosses the peer link. */
export interface RebalanceResult {
  /** Replica moves of the plan. */
  moves: number;
  /** The lower bound on moves for replica spread ≤ 1 from the assignment before. */
  minimumMoves: number;
  leaderChanges: number;
  before: AssignmentStats;
  after: AssignmentStats;
  /** Steps the movement limits split the plan into, and how many were stored. */
  steps: number;
  stepsApplied: number;
  /** True when every step was stored. */
  applied: boolean;
  dryRun: boolean;
  reason: string;
}

export interface ClusterCoordinatorOptions {
  clock?: Clock;
  logger?: Logger;
  rebalanceIntervalMs?: number;
  rebalanceThreshold?: number;
  /** Constraints for rebalances and for assignments given none (default `{ rackAware: true }`). */
  constraints?: AssignmentConstraints;
  limits?: Partial<MovementLimits>;
  /**
   * Called after each stored step and awaited before the next: the hook where a data plane waits for the
   * new replicas to catch up. Default: go on at once.
   */
  awaitStep?: (step: Assignment, index: number) => Promise<void>;
}

export interface CoordinatorStats {
  rebalances: number;
  movesApplied: number;
  failures: number;
  lastResult?: RebalanceResult;
  lastError?: unknown;
}

/**
 * Places partitions and keeps them balanced. Rebalances when a broker becomes ALIVE, fails, is removed or
 * drained, and every rebalance interval when the imbalance exceeds the threshold or replicas sit on brokers
 * that are not ALIVE; only on the Raft leader, one at a time, each plan split into steps by the movement
 * limits and each step stored atomically. After a leader change the new leader's coordinator picks up from
 * whatever step was stored last.
 *
 * @example
 * const coordinator = new ClusterCoordinator(registry, new StickyStrategy(), clusterStore);
 * coordinator.setRebalanceInterval(5 * 60_000);
 * coordinator.setRebalanceThreshold(2);
 * await coordinator.start();
 * const a = await coordinator.assignPartitions([{ topic: "events", partitionId: 0, replicas: 3 }], { rackAware: true });
 */
export class ClusterCoordinator {
  readonly #clock: Clock;
  readonly #log: Logger;
  #intervalMs: number;
  #threshold: number;
  #constraints: AssignmentConstraints;
  #limits: MovementLimits;
  readonly #awaitStep: ClusterCoordinatorOptions["awaitStep"];

  #running = false;
  #cleanups: Array<() => void> = [];
  #stopTimer: (() => void) | undefined;
  /** Serializes rebalances, drains and assignments made on this node. */
  #tail: Promise<unknown> = Promise.resolve();
  #queued = false;
  #wasLeader = false;
  readonly #stats: CoordinatorStats = { rebalances: 0, movesApplied: 0, failures: 0 };
  readonly #rebalanceListeners = new Set<(r: RebalanceResult) => void>();

  constructor(
    readonly registry: BrokerRegistry,
    readonly strategy: AssignmentStrategy,
    readonly store: ClusterStore,
    opts: ClusterCoordinatorOptions = {},
  ) {
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
    this.#intervalMs = positive(opts.rebalanceIntervalMs ?? DEFAULT_REBALANCE_INTERVAL_MS, "rebalance interval");
    this.#threshold = nonNegative(opts.rebalanceThreshold ?? DEFAULT_REBALANCE_THRESHOLD, "rebalance threshold");
    this.#constraints = normalizeConstraints(opts.constraints ?? { rackAware: true });
    this.#limits = validateLimits({ ...DEFAULT_MOVEMENT_LIMITS, ...opts.limits });
    this.#awaitStep = opts.awaitStep;
  }

  /** How often the leader looks for imbalance (default 5 min). */
  setRebalanceInterval(ms: number): void {
    this.#intervalMs = positive(ms, "rebalance interval");
    if (this.#running) this.#scheduleTimer();
  }
  /** Periodic rebalances run when replica or leader spread exceeds this (default 2). */
  setRebalanceThreshold(n: number): void {
    this.#threshold = nonNegative(n, "rebalance threshold");
  }
  setMovementLimits(limits: Partial<MovementLimits>): void {
    this.#limits = validateLimits({ ...this.#limits, ...limits });
  }
  setDefaultConstraints(c: AssignmentConstraints): void {
    this.#constraints = normalizeConstraints(c);
  }
  get movementLimits(): MovementLimits {
    return { ...this.#limits };
  }

  stats(): CoordinatorStats {
    return { ...this.#stats };
  }

  /** Listens to every applied (or dry-run) rebalance on this node; returns the remover. */
  onRebalance(listener: (r: RebalanceResult) => void): () => void {
    this.#rebalanceListeners.add(listener);
    return () => this.#rebalanceListeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#cleanups.push(this.registry.addListener({
      brokerRemoved: (id) => this.#request(`broker ${id} removed`),
      statusChanged: (b, previous) => {
        if (reactsTo(b.status, previous)) this.#request(`broker ${b.id} ${previous} → ${b.status}`);
      },
    }));
    this.#cleanups.push(this.store.onLeaderChange(() => this.#leadershipChanged()));
    this.store.handle(REBALANCE_METHOD, (body) => this.#serve(() => {
      const dryRun = !!(body as { dryRun?: unknown } | null)?.dryRun;
      return this.#locked(() => this.#rebalanceNow({ dryRun, reason: "requested" }));
    }));
    this.store.handle(DRAIN_METHOD, (body) => this.#serve(() => {
      const id = (body as { brokerId?: unknown } | null)?.brokerId;
      if (!Number.isInteger(id)) throw new StreamBusError("Invalid", "drain needs { brokerId }");
      return this.#drainOnLeader(id as number);
    }));
    this.#scheduleTimer();
    this.#leadershipChanged();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#stopTimer?.();
    this.#stopTimer = undefined;
    for (const c of this.#cleanups.splice(0)) c();
  }

  /**
   * Places the partitions with the strategy over the registry's brokers and stores the placement through
   * Raft; other topics' partitions are untouched. Invalid when the constraints cannot be met (for example a
   * replication factor above the eligible broker count).
   */
  async assignPartitions(partitions: PartitionInfo[], constraints?: AssignmentConstraints): Promise<Assignment> {
    validatePartitions(partitions);
    return await this.#locked(async () => {
      const brokers = await this.registry.listBrokers();
      const assignment = this.strategy.assign(partitions, brokers, normalizeConstraints(constraints ?? this.#constraints));
      await this.store.storePartitionAssignment(assignment);
      this.#log.info("partitions.assigned", { partitions: assignment.totalPartitions() });
      return assignment;
    });
  }

  /**
   * Creates a topic with `partitions` partitions of replication factor `rf`, placed by the strategy, in one
   * atomic write. Conflict when it exists; Invalid when `rf` exceeds the eligible brokers.
   */
  async createTopic(
    name: string,
    partitions: number,
    rf: number,
    constraints?: AssignmentConstraints,
    config: TopicConfig = {},
  ): Promise<{ topic: TopicState; assignment: Assignment }> {
    if (typeof name !== "string" || !/^[A-Za-z0-9._-]{1,249}$/.test(name) || name === "." || name === "..") {
      throw new StreamBusError("Invalid", `topic name must be 1-249 characters of [A-Za-z0-9._-], got ${JSON.stringify(name)}`);
    }
    if (!Number.isInteger(partitions) || partitions < 1) throw new StreamBusError("Invalid", `partitions must be an integer >= 1, got ${partitions}`);
    if (!Number.isInteger(rf) || rf < 1) throw new StreamBusError("Invalid", `replication factor must be an integer >= 1, got ${rf}`);
    const c = normalizeConstraints(constraints ?? this.#constraints);
    return await this.#locked(async () => {
      const brokers = await this.registry.listBrokers();
      const eligible = brokers.filter((b) => isEligible(b, c.excludedBrokers)).length;
      if (rf > eligible) {
        throw new StreamBusError("Invalid", `replication factor ${rf} exceeds the ${eligible} eligible (ALIVE, not excluded) brokers`, {
          eligible,
        });
      }
      const infos = Array.from({ length: partitions }, (_, i) => ({ topic: name, partitionId: i, replicas: rf }));
      const assignment = this.strategy.assign(infos, brokers, c);
      const topic = await this.store.createTopic(name, config, assignment);
      this.#log.info("topic.created", { topic: name, partitions, rf });
      return { topic, assignment };
    });
  }

  /**
   * Rebalances now (on the leader; a follower forwards the request). With `dryRun` only reports the plan.
   */
  async rebalance(opts: { dryRun?: boolean } = {}): Promise<RebalanceResult> {
    if (!this.store.isLeader()) return (await this.store.callLeader(REBALANCE_METHOD, { dryRun: !!opts.dryRun })) as RebalanceResult;
    return await this.#locked(() => this.#rebalanceNow({ dryRun: !!opts.dryRun, reason: "requested" }));
  }

  /**
   * Moves every replica and leadership off broker `id` (DRAINING meanwhile), then marks it DECOMMISSIONED.
   * Invalid when the remaining eligible brokers cannot hold its partitions' replication factors; nothing
   * changes then. Unavailable when leadership moved before the drain finished (the new leader completes it).
   */
  async drainBroker(id: number): Promise<RebalanceResult> {
    if (!this.store.isLeader()) return (await this.store.callLeader(DRAIN_METHOD, { brokerId: id })) as RebalanceResult;
    return await this.#drainOnLeader(id);
  }

  #drainOnLeader(id: number): Promise<RebalanceResult> {
    return this.#locked(async () => {
      const broker = await this.registry.getBroker(id);
      const brokers = await this.registry.listBrokers();
      const current = await this.store.getPartitionAssignment();
      const hosted = current.partitions().filter((p) => p.replicas.includes(id));
      const excluded = this.#constraints.excludedBrokers;
      const eligible = brokers.filter((b) => b.id !== id && isEligible(b, excluded)).length;
      const maxRf = Math.max(0, ...hosted.map((p) => p.replicas.length));
      if (broker.status !== "DECOMMISSIONED" && maxRf > eligible) {
        throw new StreamBusError("Invalid", `cannot drain broker ${id}: a partition it hosts needs ${maxRf} replicas but only ${eligible} other brokers are eligible`);
      }
      if (broker.status !== "DRAINING" && broker.status !== "DECOMMISSIONED") await this.registry.markDraining(id);
      const result = await this.#rebalanceNow({ dryRun: false, reason: `drain broker ${id}`, exclude: id });
      const after = await this.store.getPartitionAssignment();
      const left = after.partitions().filter((p) => p.replicas.includes(id) || p.leader === id).length;
      if (left > 0) {
        throw new StreamBusError("Unavailable", `drain of broker ${id} incomplete: ${left} partitions still use it; it stays DRAINING`);
      }
      if (broker.status !== "DECOMMISSIONED") await this.registry.markDecommissioned(id);
      return result;
    });
  }

  async #rebalanceNow(o: { dryRun: boolean; reason: string; exclude?: number }): Promise<RebalanceResult> {
    const brokers = await this.registry.listBrokers();
    const current = await this.store.getPartitionAssignment();
    const excluded = new Set(this.#constraints.excludedBrokers ?? []);
    if (o.exclude !== undefined) excluded.add(o.exclude);
    const constraints = { ...this.#constraints, excludedBrokers: excluded };
    const target = current.totalPartitions() === 0 ? current : this.strategy.rebalance(current, brokers, constraints);
    const plan = planMovement(current, target, this.#limits);
    const result: RebalanceResult = {
      moves: plan.moves,
      minimumMoves: minimumMoves(current, brokers, constraints),
      leaderChanges: plan.leaderChanges,
      before: assignmentStats(current, brokers, constraints),
      after: assignmentStats(target, brokers, constraints),
      steps: plan.steps.length,
      stepsApplied: 0,
      applied: plan.steps.length === 0 && !o.dryRun,
      dryRun: o.dryRun,
      reason: o.reason,
    };
    if (!o.dryRun) {
      // Each step is a compare-and-set on the version it was planned from (then on the one the previous step
      // left), so a step still in flight when leadership moved cannot land on top of the new leader's work.
      let version = current.version;
      for (const [i, step] of plan.steps.entries()) {
        if (!this.#running || !this.store.isLeader()) {
          this.#log.warn("rebalance.interrupted", { reason: o.reason, stepsApplied: i, steps: plan.steps.length });
          break;
        }
        try {
          version = await this.store.storePartitionAssignment(step, { expectedVersion: version });
        } catch (e) {
          if (!isStreamBusError(e, "Conflict")) throw e;
          // Placements changed under the plan: stop; the next check plans again from what is there now.
          this.#log.warn("rebalance.superseded", { reason: o.reason, stepsApplied: i, steps: plan.steps.length, error: e });
          break;
        }
        result.stepsApplied = i + 1;
        this.#stats.movesApplied += countMoves(current, step);
        await this.#awaitStep?.(step, i);
      }
      result.applied = result.stepsApplied === plan.steps.length;
      if (result.applied) await this.#completeDrains(target);
      this.#stats.rebalances++;
    }
    this.#stats.lastResult = result;
    this.#log.info("rebalance.done", {
      reason: o.reason, moves: result.moves, minimumMoves: result.minimumMoves, steps: result.steps,
      stepsApplied: result.stepsApplied, dryRun: o.dryRun, ...flatStats(result),
    });
    for (const l of [...this.#rebalanceListeners]) {
      try {
        l(result);
      } catch (e) {
        this.#log.error("rebalance.listener_failed", { error: e });
      }
    }
    return result;
  }

  /** DRAINING brokers left with nothing (a drain a previous leader started) become DECOMMISSIONED. */
  async #completeDrains(assignment: Assignment): Promise<void> {
    const busy = new Set(assignment.partitions().flatMap((p) => [...p.replicas, p.leader]));
    for (const b of await this.registry.listBrokers({ consistency: "stale" })) {
      if (b.status === "DRAINING" && !busy.has(b.id) && this.store.isLeader()) {
        await this.registry.markDecommissioned(b.id).catch((e) => this.#log.warn("drain.complete_failed", { brokerId: b.id, error: e }));
      }
    }
  }

  /** Whether the periodic check should rebalance: imbalance above the threshold, or replicas on non-ALIVE brokers. */
  async #needsRebalance(): Promise<boolean> {
    const brokers = await this.registry.listBrokers();
    const current = await this.store.getPartitionAssignment();
    if (current.totalPartitions() === 0) return false;
    const s = assignmentStats(current, brokers, this.#constraints);
    return s.replicasOnIneligible > 0 || s.replicaSpread > this.#threshold || s.leaderSpread > this.#threshold;
  }

  /** Coalesces triggers: at most one queued behind the running one. Leader only. */
  #request(reason: string, onlyIfNeeded = false): void {
    if (!this.#running || !this.store.isLeader() || this.#queued) return;
    this.#queued = true;
    this.#locked(async () => {
      this.#queued = false;
      if (!this.#running || !this.store.isLeader()) return;
      if (onlyIfNeeded && !(await this.#needsRebalance())) return;
      await this.#rebalanceNow({ dryRun: false, reason });
    }).catch((e) => {
      this.#stats.failures++;
      this.#stats.lastError = e;
      this.#log.warn("rebalance.failed", { reason, error: e });
    });
  }

  #leadershipChanged(): void {
    const leads = this.#running && this.store.isLeader();
    // A new leader finishes whatever a previous leader's rebalance or drain left half done.
    if (leads && !this.#wasLeader) this.#request("leadership gained", true);
    this.#wasLeader = leads;
  }

  #scheduleTimer(): void {
    this.#stopTimer?.();
    this.#stopTimer = every(this.#clock, this.#intervalMs, () => this.#request("periodic check", true));
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => {});
    return run;
  }

  async #serve<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.#running) throw new StreamBusError("Unavailable", "the coordinator on the leader is stopped");
    if (!this.store.isLeader()) {
      throw new StreamBusError("NotLeader", "request reached a node that no longer leads", { leaderId: this.store.leaderId() });
    }
    return await fn();
  }
}

/** Status changes that change where replicas may live. STARTING and the drain's own end do not. */
function reactsTo(status: BrokerStatus | undefined, previous: BrokerStatus): boolean {
  if (status === "ALIVE") return true;
  if (status === "FAILED") return previous === "ALIVE" || previous === "DRAINING";
  if (status === "DRAINING") return true;
  return false;
}

function countMoves(current: Assignment, step: Assignment): number {
  let n = 0;
  for (const p of step.partitions()) {
    const before = current.getReplicas(p.topic, p.partitionId);
    n += p.replicas.filter((r) => !before.includes(r)).length;
  }
  return n;
}

function flatStats(r: RebalanceResult): Record<string, unknown> {
  return {
    replicaSpreadBefore: r.before.replicaSpread,
    replicaSpreadAfter: r.after.replicaSpread,
    leaderSpreadBefore: r.before.leaderSpread,
    leaderSpreadAfter: r.after.leaderSpread,
  };
}
