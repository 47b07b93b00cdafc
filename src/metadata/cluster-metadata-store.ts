/**
 * The cluster layer's `ClusterStore` (the guide's `cluster.MetadataStore`) over the replicated metadata.
 * Conversion is lossless: every BrokerMetadata field the caller gives (capacity, disk, bandwidth, version,
 * tags, rack, IPv6 hosts) comes back unchanged. Partition assignments of many topics coexist; storing one
 * creates or updates exactly its partitions.
 *
 * @example
 * const clusterStore = new ClusterMetadataStore(new MetadataStore(fsm, node));
 * const registry = new BrokerRegistry(clusterStore);
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
  TopicPartitionState,
  TopicState,
} from "../cluster/types.ts";
import type { MetadataStore } from "./metadata-store.ts";
import type { MetadataFSM } from "./metadata-fsm.ts";
import type { BrokerInput, BrokerRecord, MetadataEvent, PartitionRecord } from "./types.ts";

const OPTIONAL = ["rack", "capacity", "diskCapacityGB", "diskUsedGB", "networkBandwidth", "version"] as const;

/** BrokerMetadata → the FSM's registration input (registry-owned epoch and registeredAt are the FSM's). */
export function toBrokerInput(b: BrokerMetadata): BrokerInput {
  const input: BrokerInput = { id: b.id, host: stripBrackets(b.host), port: b.port };
  for (const k of OPTIONAL) if (b[k] !== undefined) (input as unknown as Record<string, unknown>)[k] = b[k];
  if (b.tags !== undefined) input.tags = { ...b.tags };
  if (b.status !== undefined) input.status = b.status;
  if (b.lastHeartbeat !== undefined) input.lastHeartbeat = b.lastHeartbeat;
  return input;
}

/** A stored broker as the cluster layer sees it. */
export function toBrokerMetadata(r: BrokerRecord): BrokerMetadata {
  const b: BrokerMetadata = { id: r.id, host: r.host, port: r.port };
  for (const k of OPTIONAL) if (r[k] !== undefined) (b as unknown as Record<string, unknown>)[k] = r[k];
  if (r.tags !== undefined) b.tags = { ...r.tags };
  b.status = r.status;
  b.epoch = r.epoch;
  b.lastHeartbeat = r.lastHeartbeat;
  b.registeredAt = r.registeredAt;
  return b;
}

/** `[::1]` and `::1` name the same host; store the bare form so `brokerAddress` brackets it once. */
function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

const placement = (p: PartitionRecord): PartitionPlacement => ({
  topic: p.topic,
  partitionId: p.partitionId,
  replicas: [...p.replicas],
  leader: p.leader,
});

/** A topic with its partitions as this node's FSM holds them; NotFound for an unknown topic. */
export function topicState(fsm: MetadataFSM, name: string): TopicState {
  const t = fsm.getTopic(name);
  if (!t) throw new StreamBusError("NotFound", `topic "${name.slice(0, 249)}" does not exist`);
  return { name, config: t.config, partitions: fsm.listPartitions(name).map(partitionState) };
}

function partitionState(p: PartitionRecord): TopicPartitionState {
  const s: TopicPartitionState = {
    partitionId: p.partitionId,
    replicas: [...p.replicas],
    leader: p.leader,
    isr: [...p.isr],
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
  };
  if (p.addingReplicas) s.addingReplicas = [...p.addingReplicas];
  if (p.removingReplicas) s.removingReplicas = [...p.removingReplicas];
  return s;
}

/** A metadata event as a ClusterEvent, or undefined for events the cluster layer has no type for. */
export function toClusterEvent(e: MetadataEvent): ClusterEvent | undefined {
  switch (e.type) {
    case "brokerAdded":
    case "brokerUpdated":
      return { type: e.type, broker: toBrokerMetadata(e.broker) };
    case "brokerStatusChanged":
      return { type: e.type, broker: toBrokerMetadata(e.broker), previous: e.previous };
    case "brokerRemoved":
      return { type: e.type, brokerId: e.brokerId };
    case "topicCreated":
    case "topicDeleted":
      return { type: e.type, topic: e.topic };
    case "partitionsChanged":
      return { type: e.type, partitions: e.partitions.map(placement) };
    case "leaderChanged":
      return { type: e.type, topic: e.topic, partitionId: e.partitionId, leader: e.leader, leaderEpoch: e.leaderEpoch };
    case "isrChanged":
      return { type: e.type, topic: e.topic, partitionId: e.partitionId, isr: [...e.isr] };
    case "topicConfigChanged":
      return undefined;
  }
}

export class ClusterMetadataStore implements ClusterStore {
  constructor(readonly store: MetadataStore) {}

  async storeBrokerMetadata(broker: BrokerMetadata): Promise<{ broker: BrokerMetadata; created: boolean }> {
    const r = await this.store.registerBroker(toBrokerInput(broker));
    return { broker: toBrokerMetadata(r.broker), created: r.created };
  }
  async getBrokerMetadata(id: number): Promise<BrokerMetadata> {
    return toBrokerMetadata(await this.store.getBroker(id));
  }
  /** Brokers in ascending id order. */
  async listBrokers(): Promise<BrokerMetadata[]> {
    return (await this.store.listBrokers()).map(toBrokerMetadata);
  }
  async deleteBroker(id: number): Promise<void> {
    await this.store.unregisterBroker(id);
  }
  async updateBrokerStatus(id: number, status: BrokerStatus, at: number): Promise<BrokerMetadata> {
    return toBrokerMetadata((await this.store.updateBrokerStatus(id, status, at)).broker);
  }

  /**
   * Creates or updates exactly the given partitions, atomically; other partitions are untouched. With
   * `expectedVersion`: Conflict unless the assignment is still at that version when the write applies.
   */
  async storePartitionAssignment(assignment: Assignment, opts: { expectedVersion?: number } = {}): Promise<number> {
    const partitions = assignment.partitions();
    const expected = opts.expectedVersion;
    if (partitions.length === 0) return expected ?? (await this.store.versions()).assignmentVersion;
    const r = await this.store.applyAssignment(partitions, expected === undefined ? {} : { expectedAssignmentVersion: expected });
    return r.assignmentVersion;
  }
  /** The whole assignment (or one topic's), versioned by the assignment version. */
  async getPartitionAssignment(topic?: string): Promise<Assignment> {
    await this.store.versions(); // linearizable read point, then one consistent local view
    const fsm = this.store.fsm;
    return new Assignment(fsm.listPlacements(topic), fsm.assignmentVersion);
  }

  async createTopic(name: string, config: TopicConfig, assignment: Assignment): Promise<TopicState> {
    const foreign = assignment.topics().filter((t) => t !== name);
    if (foreign.length > 0) {
      throw new StreamBusError("Invalid", `createTopic("${name}") was given partitions of other topic(s): ${foreign.join(", ")}`);
    }
    const partitions = assignment.partitions().map((p) => ({ partitionId: p.partitionId, replicas: p.replicas, leader: p.leader }));
    await this.store.createTopic(name, config, partitions);
    return topicState(this.store.fsm, name);
  }
  async deleteTopic(name: string): Promise<void> {
    await this.store.deleteTopic(name);
  }
  async listTopics(): Promise<TopicState[]> {
    await this.store.versions();
    return this.store.fsm.listTopics().map((t) => topicState(this.store.fsm, t.name));
  }
  async getTopic(name: string): Promise<TopicState> {
    await this.store.versions();
    return topicState(this.store.fsm, name);
  }

  /** Replicated changes as ClusterEvents, in apply order, on this node. */
  subscribe(listener: (event: ClusterEvent) => void): () => void {
    return this.store.subscribe((e) => {
      const c = toClusterEvent(e);
      if (c) listener(c);
    });
  }

  isLeader(): boolean {
    return this.store.isLeader();
  }
  leaderId(): number | undefined {
    return this.store.leaderId();
  }
  onLeaderChange(listener: (leaderId: number | undefined) => void): () => void {
    return this.store.onLeaderChange(listener);
  }
  callLeader(method: string, body: unknown): Promise<unknown> {
    return this.store.callLeader(method, body);
  }
  handle(method: string, handler: (body: unknown) => Promise<unknown>): void {
    this.store.handle(method, handler);
  }
}
