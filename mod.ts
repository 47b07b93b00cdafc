/**
 * StreamBus public API (CONTRACT.md §1). Re-exports only; runtime ports live in runtimes/<runtime>/mod.ts
 * (fileStorage, webSocketTransport) and the memory ports in src/testing/mod.ts.
 */
export { isStreamBusError, StreamBusError, type ErrorCode } from "./src/errors.ts";
export { type Random, seededRandom } from "./src/rng.ts";
export { jsonLogger, type Logger, type LogLevel, silentLogger } from "./src/logger.ts";
export type { Clock, FrameHandler, Storage, Transport } from "./src/ports/mod.ts";
export { every, systemClock } from "./src/ports/mod.ts";

// Raft
export { defaultConfig, RawNode, validateConfig } from "./src/raft/mod.ts";
export type {
  ConfChange, Entry, HardState, Message, Peer, RaftConfig, RaftStatus, Ready, Snapshot, StateMachine,
} from "./src/raft/mod.ts";
export { RaftNode } from "./src/raft/raft-node.ts";

// Metadata
export { ClusterMetadataStore, MetadataFSM, MetadataStore } from "./src/metadata/mod.ts";

// Cluster coordination
export {
  Assignment, assignmentStats, BrokerRegistry, brokerAddress, ClusterCoordinator, HeartbeatService, minimumMoves,
  movesBetween, RangeStrategy, RoundRobinStrategy, StickyStrategy,
} from "./src/cluster/mod.ts";
export type {
  AssignmentConstraints, AssignmentJSON, AssignmentStrategy, BrokerMetadata, BrokerStatus, ClusterEvent, ClusterStore,
  PartitionInfo, PartitionPlacement, RebalanceResult, TopicConfig, TopicState,
} from "./src/cluster/mod.ts";

// Node, admin API, metrics
export { parseNodeArgs, StreamBusNode } from "./src/node/mod.ts";
export { createAdminRouter } from "./src/admin/mod.ts";
export { MetricsRegistry } from "./src/metrics.ts";
