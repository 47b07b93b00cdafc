/**
 * Metadata reads and writes over Raft. A write proposes one command and resolves only once it is committed and
 * applied on this node, with the operation's value, or rejects with its typed error. Through leader changes it
 * retries with the same (clientId, seq) until its deadline: the FSM's session table makes the retry apply once.
 * Reads are linearizable (ReadIndex barrier) unless `{ stale: true }`.
 *
 * @example
 * const store = new MetadataStore(fsm, node);
 * const { broker, created } = await store.registerBroker({ id: 1, host: "localhost", port: 9092 });
 * const brokers = await store.listBrokers();            // linearizable
 * const fast = await store.listBrokers({ stale: true }); // this node's applied state
 */
import { StreamBusError, isStreamBusError } from "../errors.ts";
import { systemClock, type Clock } from "../ports/clock.ts";
import type { BrokerStatus, TopicConfig } from "../cluster/types.ts";
import type { ConsensusNode } from "./consensus-node.ts";
import type { MetadataFSM } from "./metadata-fsm.ts";
import { encodeJson, validateCommand } from "./operation-codec.ts";
import type {
  ApplyResult,
  BrokerInput,
  BrokerPatch,
  BrokerRecord,
  Command,
  MetadataListener,
  Operation,
  OperationValues,
  PartitionRecord,
  PlacementInput,
  TopicPlacementInput,
  TopicRecord,
} from "./types.ts";

export interface MetadataStoreOptions {
  /** Names this store's session in the FSM; default `node<id>-<uuid>`. Must be unique per store instance. */
  clientId?: string;
  /** Default deadline of a write or a linearizable read, in ms (default 10,000). */
  timeoutMs?: number;
  /** Timers for retry back-off and deadlines (default the system clock; tests pass a manual one). */
  clock?: Clock;
  /** Wall-clock stamp written into operations (default Date.now). */
  now?: () => number;
  /** Pause between retries when no leader change arrives first (default 50 ms). */
  retryBackoffMs?: number;
  /**
   * Longest wait for one attempt before proposing again with the same (clientId, seq) (default 3,000 ms).
   * An attempt also ends early when the leader changes: a proposal lost with the old leader would otherwise
   * hold the caller until the whole deadline.
   */
  attemptTimeoutMs?: number;
}

export interface WriteOptions {
  timeoutMs?: number;
  /** Compare-and-set on the state version: Conflict if it moved. */
  expectedVersion?: number;
  /** Compare-and-set on the assignment version: Conflict if placements changed meanwhile. */
  expectedAssignmentVersion?: number;
  /** Refuse at once with NotLeader (naming the leader) instead of forwarding from a follower. */
  requireLeader?: boolean;
}

export interface ReadOptions {
  /** Serve from this node's applied state without a ReadIndex round (may lag the leader). */
  stale?: boolean;
  timeoutMs?: number;
}

const RETRYABLE = ["NoLeader", "NotLeader", "Timeout", "Unavailable"] as const;

export class MetadataStore {
  readonly clientId: string;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #backoffMs: number;
  readonly #attemptMs: number;
  #nextSeq = 1;
  readonly #inFlight = new Set<number>();

  constructor(readonly fsm: MetadataFSM, readonly node: ConsensusNode, opts: MetadataStoreOptions = {}) {
    this.clientId = opts.clientId ?? `node${node.id}-${crypto.randomUUID()}`;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#clock = opts.clock ?? systemClock;
    this.#now = opts.now ?? (() => Date.now());
    this.#backoffMs = opts.retryBackoffMs ?? 50;
    this.#attemptMs = opts.attemptTimeoutMs ?? 3_000;
  }

  // ---- leadership -------------------------------------------------------------------------------------------

  isLeader(): boolean {
    return this.node.isLeader();
  }
  leaderId(): number | undefined {
    return this.node.leaderId();
  }
  onLeaderChange(listener: (leaderId: number | undefined) => void): () => void {
    return this.node.onLeaderChange(listener);
  }
  /** Change events of this node's FSM, in apply order. */
  subscribe(listener: MetadataListener): () => void {
    return this.fsm.subscribe(listener);
  }
  callLeader(method: string, body: unknown): Promise<unknown> {
    return this.node.callLeader(method, body);
  }
  handle(method: string, handler: (body: unknown) => Promise<unknown>): void {
    this.node.handle(method, handler);
  }

  // ---- writes -----------------------------------------------------------------------------------------------

  /** Upsert: a new broker gets epoch 1, a re-registration bumps it. */
  registerBroker(broker: BrokerInput, opts?: WriteOptions): Promise<OperationValues["registerBroker"]> {
    return this.execute({ type: "registerBroker", broker, at: this.#now() }, opts);
  }
  unregisterBroker(brokerId: number, opts?: WriteOptions): Promise<OperationValues["unregisterBroker"]> {
    return this.execute({ type: "unregisterBroker", brokerId }, opts);
  }
  /** Changes fields without a new epoch; `null` removes an optional field. */
  updateBroker(brokerId: number, patch: BrokerPatch, opts?: WriteOptions): Promise<OperationValues["updateBroker"]> {
    return this.execute({ type: "updateBroker", brokerId, patch }, opts);
  }
  updateBrokerStatus(brokerId: number, status: BrokerStatus, at = this.#now(), opts?: WriteOptions) {
    return this.execute<"updateBrokerStatus">({ type: "updateBrokerStatus", brokerId, status, at }, opts);
  }
  /** Creates the topic with all its partitions (ids 0..n-1) atomically; Conflict if it exists. */
  createTopic(name: string, config: TopicConfig, partitions: PlacementInput[], opts?: WriteOptions) {
    return this.execute<"createTopic">({ type: "createTopic", name, config, partitions, at: this.#now() }, opts);
  }
  deleteTopic(name: string, opts?: WriteOptions): Promise<OperationValues["deleteTopic"]> {
    return this.execute({ type: "deleteTopic", name }, opts);
  }
  /** Merges keys into the topic config; a `null` value removes the key. */
  updateTopicConfig(name: string, config: Record<string, unknown>, opts?: WriteOptions) {
    return this.execute<"updateTopicConfig">({ type: "updateTopicConfig", name, config }, opts);
  }
  /** Creates or updates partitions of any topics in one atomic step; reports the assignment version it left. */
  async applyAssignment(partitions: TopicPlacementInput[], opts: WriteOptions = {}): Promise<OperationValues["applyAssignment"] & { assignmentVersion: number }> {
    const r = await this.#execute({ type: "applyAssignment", partitions, at: this.#now() }, opts);
    return { ...(r.value as OperationValues["applyAssignment"]), assignmentVersion: r.assignmentVersion };
  }
  /** The new leader must be in the ISR and `leaderEpoch` above the current one. */
  updateLeader(topic: string, partitionId: number, leader: number, leaderEpoch: number, opts?: WriteOptions) {
    return this.execute<"updateLeader">({ type: "updateLeader", topic, partitionId, leader, leaderEpoch }, opts);
  }
  updateIsr(topic: string, partitionId: number, isr: number[], opts?: WriteOptions & { leaderEpoch?: number }) {
    const op: Operation = { type: "updateIsr", topic, partitionId, isr };
    if (opts?.leaderEpoch !== undefined) op.leaderEpoch = opts.leaderEpoch;
    return this.execute<"updateIsr">(op, opts);
  }
  beginReassignment(topic: string, partitionId: number, targetReplicas: number[], opts?: WriteOptions) {
    return this.execute<"beginReassignment">({ type: "beginReassignment", topic, partitionId, targetReplicas }, opts);
  }
  /** Finishes a reassignment once every added replica is in the ISR. */
  completeReassignment(topic: string, partitionId: number, opts?: WriteOptions) {
    return this.execute<"completeReassignment">({ type: "completeReassignment", topic, partitionId }, opts);
  }

  /**
   * Proposes one operation and resolves with its value once applied here.
   * @throws StreamBusError: the operation's own rejection (Invalid, NotFound, Conflict), or NoLeader /
   *   NotLeader / Timeout when it could not be committed before the deadline.
   */
  async execute<K extends Operation["type"]>(op: Extract<Operation, { type: K }> | Operation, opts: WriteOptions = {}): Promise<OperationValues[K]> {
    return (await this.#execute(op, opts)).value as OperationValues[K];
  }

  /** As execute, with the state and assignment versions the operation left. */
  async #execute(op: Operation, opts: WriteOptions): Promise<Extract<ApplyResult, { ok: true }>> {
    if (opts.requireLeader && !this.node.isLeader()) throw this.#notLeader();
    const seq = this.#nextSeq++;
    this.#inFlight.add(seq);
    try {
      // Seqs are issued in increasing order and a Set iterates in insertion order: the first is the lowest.
      const ackBelow = this.#inFlight.values().next().value as number;
      const cmd: Command = { clientId: this.clientId, seq, ackBelow, op };
      if (opts.expectedVersion !== undefined) cmd.expectedVersion = opts.expectedVersion;
      if (opts.expectedAssignmentVersion !== undefined) cmd.expectedAssignmentVersion = opts.expectedAssignmentVersion;
      // Bad input fails here, before it reaches the log. The checked copy is what the bytes decode to, so
      // this node's apply takes it instead of decoding its own entry again.
      const decoded = validateCommand(cmd);
      const data = encodeJson(decoded);
      const { result } = await this.#retrying(opts.timeoutMs, (timeoutMs) => this.node.propose(data, { timeoutMs, decoded }));
      return okResult(result);
    } finally {
      this.#inFlight.delete(seq);
    }
  }

  // ---- reads ------------------------------------------------------------------------------------------------

  /** @throws NotFound for an unknown broker. */
  async getBroker(id: number, opts?: ReadOptions): Promise<BrokerRecord> {
    await this.#barrier(opts);
    return this.fsm.getBroker(id) ?? notFound(`broker ${id} is not registered`);
  }
  async listBrokers(opts?: ReadOptions): Promise<BrokerRecord[]> {
    await this.#barrier(opts);
    return this.fsm.listBrokers();
  }
  async getTopic(name: string, opts?: ReadOptions): Promise<TopicRecord> {
    await this.#barrier(opts);
    return this.fsm.getTopic(name) ?? notFound(`topic "${name}" does not exist`);
  }
  async listTopics(opts?: ReadOptions): Promise<TopicRecord[]> {
    await this.#barrier(opts);
    return this.fsm.listTopics();
  }
  async getPartition(topic: string, partitionId: number, opts?: ReadOptions): Promise<PartitionRecord> {
    await this.#barrier(opts);
    return this.fsm.getPartition(topic, partitionId) ?? notFound(`partition ${topic}/${partitionId} does not exist`);
  }
  /** All partitions, or one topic's, in (topic, partitionId) order. */
  async listPartitions(topic?: string, opts?: ReadOptions): Promise<PartitionRecord[]> {
    await this.#barrier(opts);
    return this.fsm.listPartitions(topic);
  }
  async versions(opts?: ReadOptions): Promise<{ version: number; assignmentVersion: number; appliedIndex: number }> {
    await this.#barrier(opts);
    return { version: this.fsm.version, assignmentVersion: this.fsm.assignmentVersion, appliedIndex: this.fsm.appliedIndex };
  }
  /** Waits for a linearizable read point (no-op with `stale`); then read `fsm` directly. */
  async #barrier(opts: ReadOptions = {}): Promise<void> {
    if (opts.stale) return;
    await this.#retrying(opts.timeoutMs, (timeoutMs) => this.node.readBarrier({ timeoutMs }));
  }

  // ---- retry ------------------------------------------------------------------------------------------------

  async #retrying<T>(timeoutMs: number | undefined, attempt: (remainingMs: number) => Promise<T>): Promise<T> {
    const budget = timeoutMs ?? this.#timeoutMs;
    const deadline = this.#clock.now() + budget;
    let last: StreamBusError | undefined;
    for (;;) {
      const remaining = deadline - this.#clock.now();
      if (remaining <= 0) throw this.#giveUp(last, budget);
      try {
        return await this.#untilLeaderChange(attempt(Math.min(remaining, this.#attemptMs)));
      } catch (e) {
        if (!isStreamBusError(e, ...RETRYABLE)) throw e;
        last = e;
      }
      await this.#pause(deadline);
    }
  }

  /** Settles like `p`, or fails with a retryable Unavailable as soon as the leader changes. */
  #untilLeaderChange<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const off = this.node.onLeaderChange(() => {
        off();
        reject(new StreamBusError("Unavailable", "the metadata leader changed while the request was in flight"));
      });
      p.then(
        (v) => {
          off();
          resolve(v);
        },
        (e) => {
          off();
          reject(e);
        },
      );
    });
  }

  /** Waits for the next leader change or the back-off, whichever is first (never past the deadline). */
  #pause(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.#clock.clearTimeout(timer);
        off();
        resolve();
      };
      const off = this.node.onLeaderChange((id) => {
        if (id !== undefined) finish();
      });
      const timer = this.#clock.setTimeout(finish, Math.max(0, Math.min(this.#backoffMs, deadline - this.#clock.now())));
    });
  }

  #notLeader(): StreamBusError {
    const leaderId = this.node.leaderId();
    return leaderId === undefined
      ? new StreamBusError("NoLeader", "no metadata leader is known right now; retry shortly")
      : new StreamBusError("NotLeader", `node ${this.node.id} is not the metadata leader; node ${leaderId} is`, { leaderId });
  }

  #giveUp(last: StreamBusError | undefined, budget: number): StreamBusError {
    if (last?.code === "NoLeader" || last?.code === "NotLeader") {
      const e = this.#notLeader();
      return new StreamBusError(e.code, `${e.message} (gave up after ${budget} ms)`, e.details);
    }
    return new StreamBusError("Timeout", `metadata request not confirmed within ${budget} ms${last ? `: ${last.message}` : ""}; its outcome is unknown`);
  }
}

function notFound(message: string): never {
  throw new StreamBusError("NotFound", message);
}

/** Turns an FSM result into the value, or throws its typed error. */
export function unwrap(result: unknown): unknown {
  return okResult(result).value;
}

/** The successful FSM result (value and versions), or throws its typed error. */
function okResult(result: unknown): Extract<ApplyResult, { ok: true }> {
  const r = result as ApplyResult | undefined;
  if (!r || typeof r !== "object" || typeof r.ok !== "boolean") {
    throw new StreamBusError("Unavailable", "the consensus node returned no metadata result for the proposal");
  }
  if (r.ok) return r;
  throw new StreamBusError(r.error.code, r.error.message, r.error.details ?? {});
}
