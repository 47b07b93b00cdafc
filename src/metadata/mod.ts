/** Replicated metadata: the FSM, the Raft-backed store, and the cluster layer's adapter. Re-exports only. */
export { MetadataFSM, type MetadataFSMOptions } from "./metadata-fsm.ts";
export { MetadataStore, type MetadataStoreOptions, type ReadOptions, unwrap, type WriteOptions } from "./metadata-store.ts";
export { ClusterMetadataStore, toBrokerInput, toBrokerMetadata, toClusterEvent } from "./cluster-metadata-store.ts";
export type { ConsensusNode } from "./consensus-node.ts";
export { decodeCommand, encodeCommand, validateCommand, validateOperation } from "./operation-codec.ts";
export { defaultSessionLimits, type SessionLimits } from "./session-table.ts";
export * from "./types.ts";
