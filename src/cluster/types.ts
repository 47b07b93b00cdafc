import type { Assignment } from "./assignment.ts";

export type BrokerStatus = "STARTING" | "ALIVE" | "DRAINING" | "DECOMMISSIONED" | "FAILED";

/**
 * The broker fields a caller gives (CONTRACT.md §1). BrokerMetadata here and the metadata layer's
 * BrokerRecord / BrokerInput add their own status and bookkeeping fields to these.
 */
export interface BrokerFields {
  id: number;
  host: string;
  port: number;
  rack?: string;
  /** Relative capacity weight (default 1 when absent); strategies weight replica targets by it. */
  capacity?: number;
  diskCapacityGB?: number;
  diskUsedGB?: number;
  networkBandwidth?: number;
  version?: string;
  tags?: Record<string, string>;
}

/** A broker as the cluster layer sees it (CONTRACT.md §1). Nothing the caller gives is dropped. */
export interface BrokerMetadata extends BrokerFields {
  /** Registry-owned. */
  status?: BrokerStatus;
  /** Bumped by each (re-)registration. */
  epoch?: number;
  /** Milliseconds (registry clock) of the last heartbeat seen; 0 when none. */
  lastHeartbeat?: number;
  registeredAt?: number;
}

/** `host:port`, with IPv6 hosts bracketed: `[::1]:9092`. */
export function brokerAddress(b: Pick<BrokerMetadata, "host" | "port">): string {
  return b.host.includes(":") && !b.host.startsWith("[") ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`;
}

/** A partition to place: `replicas` is its replication factor. */
export interface PartitionInfo {
  topic: string;
  partitionId: number;
  replicas: number;
}

export interface AssignmentConstraints {
  rackAware?: boolean;
  excludedBrokers?: Set<number>;
  maxPartitionsPerBroker?: number;
}

/** One placed partition: replicas[0] is the preferred leader. */
export interface PartitionPlacement {
  topic: string;
  partitionId: number;
  replicas: number[];
  leader: number;
}

export interface AssignmentJSON {
  version: number;
  partitions: PartitionPlacement[];
}

/** Pure and deterministic: same inputs, same output. */
export interface AssignmentStrategy {
  readonly name: string;
  assign(partitions: PartitionInfo[], brokers: BrokerMetadata[], constraints?: AssignmentConstraints): Assignment;
  rebalance(current: Assignment, brokers: BrokerMetadata[], constraints?: AssignmentConstraints): Assignment;
}

export interface TopicConfig {
  retentionMs?: number;
  segmentBytes?: number;
  minInSyncReplicas?: number;
  cleanupPolicy?: "delete" | "compact";
  [key: string]: unknown;
}

export interface TopicPartitionState {
  partitionId: number;
  /** During a reassignment: the target replicas followed by those being removed. */
  replicas: number[];
  leader: number;
  isr: number[];
  /** Bumped on every leader change. */
  leaderEpoch: number;
  /** Bumped on every change of replicas, ISR or leader. */
  partitionEpoch: number;
  addingReplicas?: number[];
  removingReplicas?: number[];
}

export interface TopicState {
  name: string;
  config: TopicConfig;
  partitions: TopicPartitionState[];
}

/** Changes the metadata layer reports on every node, in apply order. */
export type ClusterEvent =
  | { type: "brokerAdded"; broker: BrokerMetadata }
  | { type: "brokerUpdated"; broker: BrokerMetadata }
  | { type: "brokerStatusChanged"; broker: BrokerMetadata; previous: BrokerStatus }
  | { type: "brokerRemoved"; brokerId: number }
  | { type: "topicCreated"; topic: string }
  | { type: "topicDeleted"; topic: string }
  | { type: "partitionsChanged"; partitions: PartitionPlacement[] }
  | { type: "leaderChanged"; topic: string; partitionId: number; leader: number; leaderEpoch: number }
  | { type: "isrChanged"; topic: string; partitionId: number; isr: number[] };

/**
 * What the cluster layer (BrokerRegistry, ClusterCoordinator) needs from metadata: the guide's
 * `cluster.MetadataStore`, implemented over Raft by `ClusterMetadataStore`. Every write is replicated and
 * resolves once applied on this node; reads are linearizable.
 */
export interface ClusterStore {
  /** Upsert; returns the stored broker (with epoch) and whether it was new. */
  storeBrokerMetadata(broker: BrokerMetadata): Promise<{ broker: BrokerMetadata; created: boolean }>;
  /** Throws StreamBusError NotFound for an unknown id. */
  getBrokerMetadata(id: number): Promise<BrokerMetadata>;
  listBrokers(): Promise<BrokerMetadata[]>;
  /** Throws NotFound for an unknown id. */
  deleteBroker(id: number): Promise<void>;
  updateBrokerStatus(id: number, status: BrokerStatus, at: number): Promise<BrokerMetadata>;
  /**
   * Creates or updates the given partitions atomically; other topics' partitions are untouched. Resolves
   * with the assignment version after the write. With `expectedVersion`, the write is a compare-and-set:
   * Conflict, and nothing changes, unless the assignment is still at that version when the write applies.
   */
  storePartitionAssignment(assignment: Assignment, opts?: { expectedVersion?: number }): Promise<number>;
  /** The whole assignment, or one topic's. */
  getPartitionAssignment(topic?: string): Promise<Assignment>;
  /** Creates a topic with all its partitions atomically; Conflict if it exists. */
  createTopic(name: string, config: TopicConfig, assignment: Assignment): Promise<TopicState>;
  deleteTopic(name: string): Promise<void>;
  listTopics(): Promise<TopicState[]>;
  getTopic(name: string): Promise<TopicState>;
  /** Subscribes to replicated changes; returns the unsubscribe function. */
  subscribe(listener: (event: ClusterEvent) => void): () => void;

  /** Leadership of the underlying Raft group (leader-only duties follow it). */
  isLeader(): boolean;
  leaderId(): number | undefined;
  onLeaderChange(listener: (leaderId: number | undefined) => void): () => void;
  /** Calls a handler registered with `handle` on the current leader (locally when this node leads). */
  callLeader(method: string, body: unknown): Promise<unknown>;
  handle(method: string, handler: (body: unknown) => Promise<unknown>): void;
}
