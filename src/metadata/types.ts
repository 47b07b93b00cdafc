/**
 * The replicated metadata model: broker, topic and partition records, the operations that change them, the
 * typed result of applying one, and the change events every node emits in apply order.
 */
import type { ErrorCode } from "../errors.ts";
import type { BrokerFields, BrokerStatus, TopicConfig, TopicPartitionState } from "../cluster/types.ts";

export const BROKER_STATUSES: readonly BrokerStatus[] = ["STARTING", "ALIVE", "DRAINING", "DECOMMISSIONED", "FAILED"];

/** A broker as the FSM stores it. Optional fields are absent (never `undefined`) when not given. */
export interface BrokerRecord extends BrokerFields {
  status: BrokerStatus;
  /** 1 on first registration, +1 on each re-registration. */
  epoch: number;
  /** Proposer-stamped time of the latest (re-)registration. */
  registeredAt: number;
  /** Registry-owned; 0 when none was recorded. */
  lastHeartbeat: number;
  /** Proposer-stamped time of the latest status change (the registration time at first). */
  statusChangedAt: number;
}

/** The caller's part of a broker: what registerBroker takes. */
export interface BrokerInput extends BrokerFields {
  status?: BrokerStatus;
  lastHeartbeat?: number;
}

/** Fields updateBroker may change; `null` removes an optional field. The epoch is not bumped. */
export interface BrokerPatch {
  host?: string;
  port?: number;
  rack?: string | null;
  capacity?: number | null;
  diskCapacityGB?: number | null;
  diskUsedGB?: number | null;
  networkBandwidth?: number | null;
  version?: string | null;
  tags?: Record<string, string> | null;
  lastHeartbeat?: number;
}

/** A partition as the FSM stores it: the cluster layer's TopicPartitionState plus its topic. */
export interface PartitionRecord extends TopicPartitionState {
  topic: string;
}

export interface TopicRecord {
  name: string;
  config: TopicConfig;
  createdAt: number;
  partitionCount: number;
}

/** One placement in createTopic / applyAssignment. `leader` defaults to replicas[0]. */
export interface PlacementInput {
  partitionId: number;
  replicas: number[];
  leader?: number;
}

export interface TopicPlacementInput extends PlacementInput {
  topic: string;
}

/** Every operation the FSM applies. `at` is the proposer's clock (the FSM never reads one). */
export type Operation =
  | { type: "registerBroker"; broker: BrokerInput; at: number }
  | { type: "unregisterBroker"; brokerId: number }
  | { type: "updateBroker"; brokerId: number; patch: BrokerPatch }
  | { type: "updateBrokerStatus"; brokerId: number; status: BrokerStatus; at: number }
  | { type: "createTopic"; name: string; config: TopicConfig; partitions: PlacementInput[]; at: number }
  | { type: "deleteTopic"; name: string }
  /** Merges `config` into the topic's config; a `null` value removes that key. */
  | { type: "updateTopicConfig"; name: string; config: Record<string, unknown> }
  /** Creates or updates any number of partitions across topics atomically; unknown topics are created. */
  | { type: "applyAssignment"; partitions: TopicPlacementInput[]; at: number }
  | { type: "updateLeader"; topic: string; partitionId: number; leader: number; leaderEpoch: number }
  /** `leaderEpoch`, when given, fences a stale leader: it must equal the partition's current one. */
  | { type: "updateIsr"; topic: string; partitionId: number; isr: number[]; leaderEpoch?: number }
  | { type: "beginReassignment"; topic: string; partitionId: number; targetReplicas: number[] }
  | { type: "completeReassignment"; topic: string; partitionId: number };

export type OperationType = Operation["type"];

/** What one Raft entry carries: the operation plus its session and compare-and-set fields. */
export interface Command {
  clientId: string;
  /** Per-client sequence number, starting at 1; a retry reuses it. */
  seq: number;
  /** The lowest seq this client still awaits: results below it may be forgotten. */
  ackBelow?: number;
  /** Compare-and-set on the state version. */
  expectedVersion?: number;
  /** Compare-and-set on the assignment version. */
  expectedAssignmentVersion?: number;
  op: Operation;
}

export interface OpError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** The result of applying one entry. Rejections are values, never exceptions. */
export type ApplyResult<T = unknown> =
  | { ok: true; value: T; version: number; assignmentVersion: number }
  | { ok: false; error: OpError; version: number; assignmentVersion: number };

/** The value of each successful operation. */
export interface OperationValues {
  registerBroker: { broker: BrokerRecord; created: boolean };
  unregisterBroker: { brokerId: number };
  updateBroker: { broker: BrokerRecord };
  updateBrokerStatus: { broker: BrokerRecord; previous: BrokerStatus };
  createTopic: { topic: TopicRecord; partitions: number };
  deleteTopic: { topic: string; partitions: number };
  updateTopicConfig: { topic: TopicRecord };
  /** Kept small on purpose: results are remembered per client for exactly-once. */
  applyAssignment: { changed: number; createdTopics: string[] };
  updateLeader: { partition: PartitionRecord };
  updateIsr: { partition: PartitionRecord };
  beginReassignment: { partition: PartitionRecord };
  completeReassignment: { partition: PartitionRecord };
}

/** Replicated change events, emitted on every node in apply order (and synthesized from a restore's diff). */
export type MetadataEvent =
  | { type: "brokerAdded"; broker: BrokerRecord }
  | { type: "brokerUpdated"; broker: BrokerRecord }
  | { type: "brokerStatusChanged"; broker: BrokerRecord; previous: BrokerStatus }
  | { type: "brokerRemoved"; brokerId: number }
  | { type: "topicCreated"; topic: string; config: TopicConfig }
  | { type: "topicDeleted"; topic: string }
  | { type: "topicConfigChanged"; topic: string; config: TopicConfig }
  | { type: "partitionsChanged"; partitions: PartitionRecord[] }
  | { type: "leaderChanged"; topic: string; partitionId: number; leader: number; leaderEpoch: number }
  | { type: "isrChanged"; topic: string; partitionId: number; isr: number[]; partitionEpoch: number };

/** Where an event came from: the log index applied, and the state version after it. */
export interface EventMeta {
  index: number;
  version: number;
  /** True for events synthesized when a snapshot replaced the state. */
  fromSnapshot?: boolean;
}

export type MetadataListener = (event: MetadataEvent, meta: EventMeta) => void;
