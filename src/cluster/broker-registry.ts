import { isStreamBusError, StreamBusError } from "../errors.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { type Clock, every, systemClock } from "../ports/clock.ts";
import {
  DEFAULT_CHECK_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_RECOVERY_PERIOD_MS,
  HealthTracker,
  type HealthTransition,
} from "./broker-health.ts";
import { nonNegative, positive, validateBroker } from "./cluster-input.ts";
import type { BrokerMetadata, BrokerStatus, ClusterEvent, ClusterStore } from "./types.ts";

/** The RPC a follower's registry sends to the leader's with a heartbeat. */
export const HEARTBEAT_METHOD = "registry.heartbeat";

/** Registry events. Every node's registry fires them, in Raft apply order, from the replicated changes. */
export interface RegistryListener {
  brokerAdded?(broker: BrokerMetadata): void;
  brokerRemoved?(brokerId: number): void;
  brokerFailed?(brokerId: number, broker: BrokerMetadata): void;
  /** FAILED → ALIVE. */
  brokerRecovered?(broker: BrokerMetadata): void;
  /** Every status change, including the ones above (STARTING → ALIVE, → DRAINING, → DECOMMISSIONED, ...). */
  statusChanged?(broker: BrokerMetadata, previous: BrokerStatus): void;
}

export interface BrokerRegistryOptions {
  clock?: Clock;
  /**
   * Wall-clock milliseconds for the times written into metadata (status changes, lastHeartbeat). Default:
   * Date.now, or `clock.now` when a clock is given (so a simulated run stays deterministic).
   */
  wallClock?: () => number;
  logger?: Logger;
  heartbeatTimeoutMs?: number;
  checkIntervalMs?: number;
  recoveryPeriodMs?: number;
}

export interface ReadOptions {
  /** "stale" answers from this node's replicated cache without a round trip to the leader. */
  consistency?: "linearizable" | "stale";
}

/**
 * Brokers of the cluster: registration through Raft, heartbeats, failure detection on the Raft leader, and
 * the same callbacks on every node. Status: STARTING → ALIVE on the first heartbeat → FAILED after
 * `heartbeatTimeout` without one → ALIVE again once it heartbeats steadily for `recoveryPeriod`;
 * ALIVE → DRAINING → DECOMMISSIONED through a drain.
 *
 * @example
 * const registry = new BrokerRegistry(clusterStore);
 * registry.setOnBrokerFailed((id) => console.log("broker", id, "failed"));
 * await registry.start();
 * await registry.registerBroker({ id: 1, host: "localhost", port: 9092, rack: "rack-1" });
 * await registry.recordHeartbeat(1);   // works on any node: followers forward it to the leader
 */
export class BrokerRegistry {
  readonly #store: ClusterStore;
  readonly #clock: Clock;
  readonly #wall: () => number;
  readonly #log: Logger;
  readonly #health: HealthTracker;
  #checkIntervalMs: number;

  /** Replicated broker records as applied on this node. */
  readonly #cache = new Map<number, BrokerMetadata>();
  readonly #user: RegistryListener = {};
  readonly #listeners = new Set<RegistryListener>();
  readonly #inFlight = new Map<string, Promise<BrokerMetadata>>();
  #touchedWhileLoading: Set<number> | undefined;
  #needsLoad = true;
  #running = false;
  #cleanups: Array<() => void> = [];
  #stopChecks: (() => void) | undefined;

  constructor(store: ClusterStore, opts: BrokerRegistryOptions = {}) {
    this.#store = store;
    this.#clock = opts.clock ?? systemClock;
    const clock = this.#clock;
    this.#wall = opts.wallClock ?? (opts.clock ? () => clock.now() : () => Date.now());
    this.#log = opts.logger ?? silentLogger;
    this.#health = new HealthTracker({
      heartbeatTimeoutMs: positive(opts.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS, "heartbeatTimeoutMs"),
      recoveryPeriodMs: nonNegative(opts.recoveryPeriodMs ?? DEFAULT_RECOVERY_PERIOD_MS, "recoveryPeriodMs"),
    });
    this.#checkIntervalMs = positive(opts.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS, "checkIntervalMs");
  }

  setOnBrokerAdded(fn: ((broker: BrokerMetadata) => void) | undefined): void {
    this.#user.brokerAdded = fn;
  }
  setOnBrokerRemoved(fn: ((brokerId: number) => void) | undefined): void {
    this.#user.brokerRemoved = fn;
  }
  setOnBrokerFailed(fn: ((brokerId: number, broker: BrokerMetadata) => void) | undefined): void {
    this.#user.brokerFailed = fn;
  }
  setOnBrokerRecovered(fn: ((broker: BrokerMetadata) => void) | undefined): void {
    this.#user.brokerRecovered = fn;
  }
  setOnBrokerStatusChanged(fn: ((broker: BrokerMetadata, previous: BrokerStatus) => void) | undefined): void {
    this.#user.statusChanged = fn;
  }

  /** Adds a listener beside the user's callbacks (the coordinator uses this); returns its remover. */
  addListener(listener: RegistryListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** How long an ALIVE broker may stay silent before the leader marks it FAILED (default 30 s). */
  setHeartbeatTimeout(ms: number): void {
    this.#health.settings.heartbeatTimeoutMs = positive(ms, "heartbeat timeout");
  }
  get heartbeatTimeout(): number {
    return this.#health.settings.heartbeatTimeoutMs;
  }

  /** How often the leader checks for silent brokers (default 5 s). Takes effect at once when running. */
  setCheckInterval(ms: number): void {
    this.#checkIntervalMs = positive(ms, "check interval");
    if (this.#running) this.#scheduleChecks();
  }
  get checkInterval(): number {
    return this.#checkIntervalMs;
  }

  /** How long a FAILED broker must keep heartbeating before it is ALIVE again (default 10 s; 0: at once). */
  setRecoveryPeriod(ms: number): void {
    this.#health.settings.recoveryPeriodMs = nonNegative(ms, "recovery period");
  }

  get running(): boolean {
    return this.#running;
  }

  /**
   * Subscribes to replicated broker changes, loads the current brokers, serves forwarded heartbeats and
   * starts the health checks (which act only while this node leads). Tolerates a cluster without a leader
   * yet: the load is retried on each check until it succeeds.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#cleanups.push(this.#store.subscribe((e) => this.#onEvent(e)));
    this.#cleanups.push(this.#store.onLeaderChange(() => this.#syncLeadership()));
    this.#store.handle(HEARTBEAT_METHOD, (body) => this.#serveHeartbeat(body));
    this.#syncLeadership();
    this.#scheduleChecks();
    await this.#load().catch((e) => this.#log.warn("registry.load_deferred", { error: e }));
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stopChecks?.();
    this.#stopChecks = undefined;
    for (const c of this.#cleanups.splice(0)) c();
    this.#health.lostLeadership();
  }

  /**
   * Registers a broker, or re-registers it (upsert; the store bumps its epoch). A new broker starts
   * STARTING; a re-registering ALIVE or DRAINING broker keeps its status (its replicas stay put), any other
   * comes back STARTING. Caller-given status/epoch/lastHeartbeat are ignored: they are registry-owned.
   */
  async registerBroker(broker: BrokerMetadata): Promise<{ broker: BrokerMetadata; created: boolean }> {
    validateBroker(broker);
    // No status: the store keeps an ALIVE or DRAINING broker's status and makes anything else STARTING,
    // deciding at apply time (one replicated write, no read before it).
    const { status: _s, epoch: _e, lastHeartbeat: _h, ...given } = broker;
    const res = await this.#store.storeBrokerMetadata(given);
    this.#log.info("broker.registered", { brokerId: broker.id, epoch: res.broker.epoch, created: res.created });
    return res;
  }

  /** Removes a broker; NotFound for an unknown id. The coordinator moves its replicas away. */
  async deregisterBroker(id: number): Promise<void> {
    await this.#store.deleteBroker(id);
    this.#log.info("broker.deregistered", { brokerId: id });
  }

  /**
   * Records a heartbeat. On the leader it updates the in-memory liveness table (heartbeats are not written
   * to the Raft log) and proposes STARTING → ALIVE or a FAILED broker's recovery; elsewhere it is forwarded
   * to the leader. NotFound for an unknown broker; Conflict when `epoch` is older than the registered one
   * (a stale instance of the broker).
   */
  async recordHeartbeat(id: number, opts: { epoch?: number } = {}): Promise<BrokerMetadata> {
    if (!Number.isInteger(id) || id <= 0) throw new StreamBusError("Invalid", `broker id must be a positive integer, got ${id}`);
    if (this.#store.isLeader()) return await this.#heartbeatOnLeader(id, opts.epoch);
    return (await this.#store.callLeader(HEARTBEAT_METHOD, { brokerId: id, epoch: opts.epoch })) as BrokerMetadata;
  }

  /** One broker; NotFound when unknown. On the leader `lastHeartbeat` is the latest one seen. */
  async getBroker(id: number, opts: ReadOptions = {}): Promise<BrokerMetadata> {
    if (opts.consistency === "stale" && this.#needsLoad) {
      // Before the first load (just after a restart) the cache is empty, not stale: ask the store while it
      // can answer (else a read served after a read barrier would miss committed brokers).
      try {
        return this.#withLiveness(await this.#store.getBrokerMetadata(id));
      } catch (e) {
        if (isStreamBusError(e, "NotFound")) throw e;
      }
    }
    if (opts.consistency === "stale") {
      const b = this.#cache.get(id);
      if (!b) throw new StreamBusError("NotFound", `broker ${id} is not registered`);
      return this.#withLiveness(b);
    }
    return this.#withLiveness(await this.#store.getBrokerMetadata(id));
  }

  /** All brokers in id order. */
  async listBrokers(opts: ReadOptions = {}): Promise<BrokerMetadata[]> {
    const list = opts.consistency !== "stale" ? await this.#store.listBrokers()
      // Before the first load the cache is empty, not stale (see getBroker): ask the store while it can answer.
      : this.#needsLoad ? await this.#store.listBrokers().catch(() => [...this.#cache.values()])
      : [...this.#cache.values()];
    return list.sort((a, b) => a.id - b.id).map((b) => this.#withLiveness(b));
  }

  /** The ALIVE brokers in id order: the ones partitions may be placed on. */
  async listActiveBrokers(opts: ReadOptions = {}): Promise<BrokerMetadata[]> {
    return (await this.listBrokers(opts)).filter((b) => b.status === "ALIVE");
  }

  /** Starts a drain (ALIVE, STARTING or FAILED → DRAINING); the coordinator moves the replicas. */
  async markDraining(id: number): Promise<BrokerMetadata> {
    const b = await this.#store.getBrokerMetadata(id);
    if (b.status === "DRAINING") return b;
    if (b.status === "DECOMMISSIONED") {
      throw new StreamBusError("Invalid", `broker ${id} is already DECOMMISSIONED; re-register it to use it again`);
    }
    return await this.#propose(id, "DRAINING");
  }

  /** Ends a drain: DRAINING → DECOMMISSIONED. */
  async markDecommissioned(id: number): Promise<BrokerMetadata> {
    const b = await this.#store.getBrokerMetadata(id);
    if (b.status === "DECOMMISSIONED") return b;
    if (b.status !== "DRAINING") {
      throw new StreamBusError("Invalid", `broker ${id} is ${b.status}; only a DRAINING broker can be decommissioned`);
    }
    return await this.#propose(id, "DECOMMISSIONED");
  }

  /** Runs one health check now (the timer does this every check interval). Returns the proposed changes. */
  async checkHealth(): Promise<HealthTransition[]> {
    this.#syncLeadership();
    if (!this.#store.isLeader()) return [];
    const now = this.#clock.now();
    const changes = this.#health.check(this.#cache.values(), now);
    await Promise.all(changes.map((t) => {
      this.#log.warn("broker.failed_detected", { brokerId: t.brokerId, reason: t.reason });
      return this.#propose(t.brokerId, t.status).catch((e) => this.#log.warn("broker.status_failed", { brokerId: t.brokerId, error: e }));
    }));
    return changes;
  }

  async #heartbeatOnLeader(id: number, epoch: number | undefined): Promise<BrokerMetadata> {
    let b = this.#cache.get(id);
    if (!b) {
      b = await this.#store.getBrokerMetadata(id); // NotFound propagates
      if (!this.#cache.has(id)) this.#cache.set(id, b);
    }
    if (epoch !== undefined && b.epoch !== undefined && epoch < b.epoch) {
      throw new StreamBusError("Conflict", `heartbeat from broker ${id} epoch ${epoch}, but epoch ${b.epoch} is registered`, {
        epoch: b.epoch,
      });
    }
    const t = this.#health.heartbeat(id, b.status ?? "STARTING", this.#clock.now());
    if (t) {
      this.#log.info("broker.alive", { brokerId: id, reason: t.reason });
      b = await this.#propose(id, t.status);
    }
    return this.#withLiveness(b);
  }

  async #serveHeartbeat(body: unknown): Promise<unknown> {
    const b = body as { brokerId?: unknown; epoch?: unknown } | null;
    if (!b || !Number.isInteger(b.brokerId)) throw new StreamBusError("Invalid", "heartbeat needs { brokerId }");
    if (!this.#running) throw new StreamBusError("Unavailable", "the registry on the leader is stopped");
    if (!this.#store.isLeader()) {
      throw new StreamBusError("NotLeader", "heartbeat reached a node that no longer leads", { leaderId: this.#store.leaderId() });
    }
    return await this.#heartbeatOnLeader(b.brokerId as number, typeof b.epoch === "number" ? b.epoch : undefined);
  }

  /** One status proposal per (broker, status) at a time. */
  #propose(id: number, status: BrokerStatus): Promise<BrokerMetadata> {
    const key = `${id}:${status}`;
    const existing = this.#inFlight.get(key);
    if (existing) return existing;
    const p = this.#store.updateBrokerStatus(id, status, this.#wall()).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }

  #syncLeadership(): void {
    const leads = this.#running && this.#store.isLeader();
    if (leads && this.#health.leaderSince === undefined) {
      this.#health.becameLeader(this.#clock.now());
      this.#log.info("registry.leading", { brokers: this.#cache.size });
    } else if (!leads && this.#health.leaderSince !== undefined) {
      this.#health.lostLeadership();
    }
  }

  #scheduleChecks(): void {
    this.#stopChecks?.();
    this.#stopChecks = every(this.#clock, this.#checkIntervalMs, () => {
      if (this.#touchedWhileLoading !== undefined || this.#needsLoad) {
        this.#load().catch((e) => this.#log.debug("registry.load_deferred", { error: e }));
      }
      this.checkHealth().catch((e) => this.#log.warn("registry.check_failed", { error: e }));
    });
  }

  /** Reads every broker once; replicated events seen meanwhile are newer, so they win. */
  async #load(): Promise<void> {
    if (this.#touchedWhileLoading) return;
    this.#touchedWhileLoading = new Set();
    try {
      const list = await this.#store.listBrokers();
      const touched = this.#touchedWhileLoading;
      for (const b of list) {
        if (touched.has(b.id)) continue;
        if (!this.#cache.has(b.id)) this.#health.sawRegistration(b.id, this.#clock.now());
        this.#cache.set(b.id, b);
      }
      const listed = new Set(list.map((b) => b.id));
      for (const id of [...this.#cache.keys()]) if (!listed.has(id) && !touched.has(id)) this.#cache.delete(id);
      this.#needsLoad = false;
    } finally {
      this.#touchedWhileLoading = undefined;
    }
  }

  #onEvent(e: ClusterEvent): void {
    switch (e.type) {
      case "brokerAdded":
      case "brokerUpdated":
      case "brokerStatusChanged": {
        const b = e.broker;
        this.#touchedWhileLoading?.add(b.id);
        const prev = this.#cache.get(b.id);
        this.#cache.set(b.id, b);
        if (!prev || prev.epoch !== b.epoch) this.#health.sawRegistration(b.id, this.#clock.now());
        if (e.type === "brokerAdded" && !prev) this.#fire("brokerAdded", (l) => l.brokerAdded?.(b));
        const before = prev?.status ?? (e.type === "brokerStatusChanged" ? e.previous : undefined);
        const after = b.status ?? "STARTING";
        if (before !== undefined && before !== after) this.#fireStatus(b, before);
        return;
      }
      case "brokerRemoved": {
        this.#touchedWhileLoading?.add(e.brokerId);
        this.#cache.delete(e.brokerId);
        this.#health.forget(e.brokerId);
        this.#fire("brokerRemoved", (l) => l.brokerRemoved?.(e.brokerId));
        return;
      }
    }
  }

  #fireStatus(b: BrokerMetadata, previous: BrokerStatus): void {
    this.#log.info("broker.status", { brokerId: b.id, from: previous, to: b.status });
    this.#fire("statusChanged", (l) => l.statusChanged?.(b, previous));
    if (b.status === "FAILED") this.#fire("brokerFailed", (l) => l.brokerFailed?.(b.id, b));
    if (b.status === "ALIVE" && previous === "FAILED") this.#fire("brokerRecovered", (l) => l.brokerRecovered?.(b));
  }

  /** User callback first, then listeners; a throwing callback is logged and never stops the others. */
  #fire(what: string, call: (l: RegistryListener) => void): void {
    for (const l of [this.#user, ...this.#listeners]) {
      try {
        call(l);
      } catch (e) {
        this.#log.error("registry.callback_failed", { callback: what, error: e });
      }
    }
  }

  #withLiveness(b: BrokerMetadata): BrokerMetadata {
    const seen = this.#health.leaderSince !== undefined ? this.#health.lastSeen(b.id) : undefined;
    const copy = structuredClone(b);
    // The liveness table runs on the monotonic clock; report it on the wall clock like the stored times.
    const seenWall = seen === undefined ? undefined : this.#wall() - (this.#clock.now() - seen);
    if (seenWall !== undefined && seenWall > (b.lastHeartbeat ?? 0)) copy.lastHeartbeat = seenWall;
    return copy;
  }
}
