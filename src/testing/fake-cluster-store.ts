/**
 * An in-memory stand-in for the Raft-backed ClusterMetadataStore: one shared state, one `ClusterStore`
 * view per simulated node, and leadership the test controls. Writes need a leader (else NoLeader), apply
 * at once, and deliver their events to every node's subscribers before they resolve, as a real store does
 * on the proposing node. `beforeWrite` lets a test intervene between a proposal and its apply (for example
 * to move leadership in the middle of a rebalance).
 *
 * @example
 * const cluster = new FakeCluster([1, 2, 3], { leader: 1 });
 * const store = cluster.node(2);       // a follower's view
 * await store.storeBrokerMetadata({ id: 7, host: "h", port: 9092 });
 * cluster.setLeader(3);
 */
import { StreamBusError } from "../errors.ts";
import { Assignment } from "../cluster/assignment.ts";
import type {
  BrokerMetadata,
  BrokerStatus,
  ClusterEvent,
  ClusterStore,
  PartitionPlacement,
  TopicConfig,
  TopicState,
} from "../cluster/types.ts";

type Listener = (event: ClusterEvent) => void;
type Handler = (body: unknown) => Promise<unknown>;

/** The write operations a FakeCluster records, in apply order. */
export interface FakeWrite {
  op: "storeBroker" | "deleteBroker" | "updateStatus" | "storeAssignment" | "createTopic" | "deleteTopic";
  node: number;
  detail?: unknown;
}

export class FakeCluster {
  readonly brokers = new Map<number, BrokerMetadata>();
  readonly topics = new Map<string, TopicConfig>();
  assignment = new Assignment();
  /** Every applied write, in order. */
  readonly writes: FakeWrite[] = [];
  /** Called before each write applies; throwing rejects the write and changes nothing. */
  beforeWrite?: (write: FakeWrite) => void | Promise<void>;

  #leader: number | undefined;
  readonly #nodes = new Map<number, FakeClusterStore>();

  constructor(nodeIds: number[] = [1], opts: { leader?: number } = {}) {
    for (const id of nodeIds) this.#nodes.set(id, new FakeClusterStore(this, id));
    this.#leader = "leader" in opts ? opts.leader : nodeIds[0];
  }

  node(id: number): FakeClusterStore {
    const n = this.#nodes.get(id);
    if (!n) throw new StreamBusError("NotFound", `fake cluster has no node ${id}`);
    return n;
  }

  get leader(): number | undefined {
    return this.#leader;
  }

  /** Moves leadership (undefined: no leader) and tells every node's onLeaderChange listeners. */
  setLeader(id: number | undefined): void {
    if (id !== undefined) this.node(id);
    this.#leader = id;
    for (const n of this.#sortedNodes()) n._leaderChanged(id);
  }

  /** @internal applies one write: runs beforeWrite, checks leadership, mutates, then emits. */
  async _write<T>(write: FakeWrite, apply: () => { result: T; events: ClusterEvent[] }): Promise<T> {
    await this.beforeWrite?.(write);
    if (this.#leader === undefined) throw new StreamBusError("NoLeader", "fake cluster has no leader");
    const { result, events } = apply();
    this.writes.push(write);
    for (const e of events) for (const n of this.#sortedNodes()) n._emit(e);
    return result;
  }

  /** @internal Linearizable reads need a leader, as on Raft. */
  _read<T>(fn: () => T): Promise<T> {
    if (this.#leader === undefined) return Promise.reject(new StreamBusError("NoLeader", "fake cluster has no leader"));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** @internal */
  _callLeader(method: string, body: unknown): Promise<unknown> {
    if (this.#leader === undefined) return Promise.reject(new StreamBusError("NoLeader", "fake cluster has no leader"));
    return this.node(this.#leader)._serve(method, body);
  }

  #sortedNodes(): FakeClusterStore[] {
    return [...this.#nodes.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  }

  topicState(name: string): TopicState {
    const config = this.topics.get(name);
    if (!config) throw new StreamBusError("NotFound", `unknown topic ${name}`);
    const partitions = this.assignment.forTopic(name).partitions().map((p) => ({
      partitionId: p.partitionId,
      replicas: p.replicas,
      leader: p.leader,
      isr: [...p.replicas],
      leaderEpoch: 0,
      partitionEpoch: 0,
    }));
    return { name, config: { ...config }, partitions };
  }
}

/** One node's ClusterStore view of a FakeCluster. */
export class FakeClusterStore implements ClusterStore {
  readonly #listeners = new Set<Listener>();
  readonly #leaderListeners = new Set<(id: number | undefined) => void>();
  readonly #handlers = new Map<string, Handler>();

  constructor(readonly cluster: FakeCluster, readonly nodeId: number) {}

  storeBrokerMetadata(broker: BrokerMetadata): Promise<{ broker: BrokerMetadata; created: boolean }> {
    return this.cluster._write({ op: "storeBroker", node: this.nodeId, detail: broker.id }, () => {
      const prev = this.cluster.brokers.get(broker.id);
      const stored: BrokerMetadata = {
        ...clone(broker),
        status: broker.status ??
          (prev?.status === "ALIVE" || prev?.status === "DRAINING" ? prev.status : "STARTING"),
        epoch: (prev?.epoch ?? 0) + 1,
        lastHeartbeat: broker.lastHeartbeat ?? prev?.lastHeartbeat ?? 0,
        registeredAt: broker.registeredAt ?? 0,
      };
      this.cluster.brokers.set(broker.id, stored);
      const events: ClusterEvent[] = prev
        ? [{ type: "brokerUpdated", broker: clone(stored) }]
        : [{ type: "brokerAdded", broker: clone(stored) }];
      if (prev && prev.status !== stored.status) {
        events.push({ type: "brokerStatusChanged", broker: clone(stored), previous: prev.status ?? "STARTING" });
      }
      return { result: { broker: clone(stored), created: !prev }, events };
    });
  }

  getBrokerMetadata(id: number): Promise<BrokerMetadata> {
    return this.cluster._read(() => {
      const b = this.cluster.brokers.get(id);
      if (!b) throw new StreamBusError("NotFound", `unknown broker ${id}`);
      return clone(b);
    });
  }

  listBrokers(): Promise<BrokerMetadata[]> {
    return this.cluster._read(() => [...this.cluster.brokers.values()].sort((a, b) => a.id - b.id).map(clone));
  }

  deleteBroker(id: number): Promise<void> {
    return this.cluster._write({ op: "deleteBroker", node: this.nodeId, detail: id }, () => {
      if (!this.cluster.brokers.delete(id)) throw new StreamBusError("NotFound", `unknown broker ${id}`);
      return { result: undefined, events: [{ type: "brokerRemoved", brokerId: id }] };
    });
  }

  updateBrokerStatus(id: number, status: BrokerStatus, at: number): Promise<BrokerMetadata> {
    return this.cluster._write({ op: "updateStatus", node: this.nodeId, detail: { id, status } }, () => {
      const b = this.cluster.brokers.get(id);
      if (!b) throw new StreamBusError("NotFound", `unknown broker ${id}`);
      const previous = b.status ?? "STARTING";
      const next: BrokerMetadata = { ...b, status, lastHeartbeat: status === "ALIVE" ? at : b.lastHeartbeat };
      this.cluster.brokers.set(id, next);
      const events: ClusterEvent[] = previous === status
        ? []
        : [{ type: "brokerStatusChanged", broker: clone(next), previous }];
      return { result: clone(next), events };
    });
  }

  storePartitionAssignment(assignment: Assignment, opts: { expectedVersion?: number } = {}): Promise<number> {
    return this.cluster._write(
      { op: "storeAssignment", node: this.nodeId, detail: assignment.partitions() },
      () => {
        const current = this.cluster.assignment.version;
        if (opts.expectedVersion !== undefined && opts.expectedVersion !== current) {
          throw new StreamBusError("Conflict", `expected assignment version ${opts.expectedVersion}, current is ${current}`);
        }
        for (const p of assignment.partitions()) {
          for (const r of p.replicas) {
            if (!this.cluster.brokers.has(r)) {
              throw new StreamBusError("Invalid", `${p.topic}/${p.partitionId} names unknown broker ${r}`);
            }
          }
        }
        this.cluster.assignment = this.cluster.assignment.merge(assignment, current + 1);
        return { result: current + 1, events: [{ type: "partitionsChanged", partitions: assignment.partitions() }] };
      },
    );
  }

  getPartitionAssignment(topic?: string): Promise<Assignment> {
    return this.cluster._read(() => (topic === undefined ? this.cluster.assignment : this.cluster.assignment.forTopic(topic)));
  }

  createTopic(name: string, config: TopicConfig, assignment: Assignment): Promise<TopicState> {
    return this.cluster._write({ op: "createTopic", node: this.nodeId, detail: name }, () => {
      if (this.cluster.topics.has(name)) throw new StreamBusError("Conflict", `topic ${name} exists`);
      const parts: PartitionPlacement[] = assignment.partitions().filter((p) => p.topic === name);
      this.cluster.topics.set(name, { ...config });
      this.cluster.assignment = this.cluster.assignment.merge(new Assignment(parts), this.cluster.assignment.version + 1);
      return {
        result: this.cluster.topicState(name),
        events: [{ type: "topicCreated", topic: name }, { type: "partitionsChanged", partitions: parts }],
      };
    });
  }

  deleteTopic(name: string): Promise<void> {
    return this.cluster._write({ op: "deleteTopic", node: this.nodeId, detail: name }, () => {
      if (!this.cluster.topics.delete(name)) throw new StreamBusError("NotFound", `unknown topic ${name}`);
      const rest = this.cluster.assignment.partitions().filter((p) => p.topic !== name);
      this.cluster.assignment = new Assignment(rest, this.cluster.assignment.version + 1);
      return { result: undefined, events: [{ type: "topicDeleted", topic: name }] };
    });
  }

  listTopics(): Promise<TopicState[]> {
    return this.cluster._read(() => [...this.cluster.topics.keys()].sort().map((t) => this.cluster.topicState(t)));
  }

  getTopic(name: string): Promise<TopicState> {
    return this.cluster._read(() => this.cluster.topicState(name));
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  isLeader(): boolean {
    return this.cluster.leader === this.nodeId;
  }

  leaderId(): number | undefined {
    return this.cluster.leader;
  }

  onLeaderChange(listener: (leaderId: number | undefined) => void): () => void {
    this.#leaderListeners.add(listener);
    return () => this.#leaderListeners.delete(listener);
  }

  callLeader(method: string, body: unknown): Promise<unknown> {
    return this.cluster._callLeader(method, structuredClone(body));
  }

  handle(method: string, handler: Handler): void {
    this.#handlers.set(method, handler);
  }

  /** @internal */
  _serve(method: string, body: unknown): Promise<unknown> {
    const h = this.#handlers.get(method);
    if (!h) return Promise.reject(new StreamBusError("NotFound", `node ${this.nodeId} has no handler for ${method}`));
    return h(body).then((r) => structuredClone(r));
  }

  /** @internal */
  _emit(e: ClusterEvent): void {
    for (const l of [...this.#listeners]) l(structuredClone(e));
  }

  /** @internal */
  _leaderChanged(id: number | undefined): void {
    for (const l of [...this.#leaderListeners]) l(id);
  }
}

function clone(b: BrokerMetadata): BrokerMetadata {
  return structuredClone(b);
}
