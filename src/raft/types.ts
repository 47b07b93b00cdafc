/**
 * The data types of the Raft core: log entries, hard state, snapshots, messages and the Ready batch.
 * Shared by the pure core (`raw-node.ts`), the driver (`raft-node.ts`), storage and the simulator.
 */

/** Node ids are positive integers; 0 means "none" (no vote, no leader). */
export type NodeId = number;
export const NONE: NodeId = 0;

export type EntryType = "normal" | "confChange";

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to Raft. A leader's no-op is an empty normal entry. A confChange entry holds an encoded ConfChange. */
  data: Uint8Array;
}

/** What must be durable before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Membership. `votersOutgoing` is non-empty only during a joint-consensus change (C_old,new). */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
  votersOutgoing: NodeId[];
  /** Learners that become voters when the joint configuration is left. */
  learnersNext: NodeId[];
  /** Whether the joint configuration is left automatically once committed. */
  autoLeave: boolean;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
  /** Peer addresses known at the snapshot, so a restored node can reach members added after its start. */
  addrs?: Record<string, string>;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The application state machine's snapshot (StateMachine.snapshot()). */
  data: Uint8Array;
}

export type ConfChangeType = "addVoter" | "addLearner" | "removeNode";

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: NodeId;
  /** host:port of a node being added, so every member can reach it. */
  addr?: string;
}

/**
 * A membership change. One change is applied as a single-server change; several at once use joint consensus.
 * `leaveJoint: true` with no changes leaves a joint configuration (only needed when autoLeave was false).
 */
export interface ConfChange {
  changes: ConfChangeSingle[];
  leaveJoint?: boolean;
  /** Joint consensus even for a single change. */
  joint?: boolean;
  /** Leave the joint configuration automatically (default true). */
  autoLeave?: boolean;
}

export type MessageType =
  | "hup" // local: start an election
  | "beat" // local: leader sends heartbeats
  | "prop" // proposal (forwarded from a follower to the leader)
  | "app" // AppendEntries
  | "appResp"
  | "vote"
  | "voteResp"
  | "preVote"
  | "preVoteResp"
  | "snap" // InstallSnapshot chunk
  | "snapResp" // ack of a chunk (or rejection)
  | "heartbeat"
  | "heartbeatResp"
  | "transferLeader"
  | "timeoutNow"
  | "readIndex"
  | "readIndexResp";

/**
 * One Raft message. Fields beyond type/from/to/term are used by the types that need them; absent
 * fields are omitted on the wire.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: term of the entry at `index` (prevLogTerm); vote: last log term. */
  logTerm?: number;
  /** app: prevLogIndex; appResp: the index matched (or rejected); vote: last log index. */
  index?: number;
  entries?: Entry[];
  commit?: number;
  reject?: boolean;
  /** appResp rejection hint: the follower's conflict index (fast backtracking). */
  rejectHint?: number;
  /** appResp rejection hint: the term of the follower's entry at rejectHint (0 if none). */
  conflictTerm?: number;
  /** snap: one chunk of a snapshot. */
  snapshot?: SnapshotChunk;
  /** readIndex / heartbeat: opaque request context echoed back. */
  context?: Uint8Array;
  /** vote / preVote: the campaign was started by a leadership transfer, so it bypasses the leader lease. */
  transfer?: boolean;
  /** snapResp: the next snapshot byte offset the follower expects. */
  offset?: number;
  /**
   * vote / preVote and their responses: the term of the entry at `commit` (the sender's commit index).
   * A receiver holding the same entry may adopt that commit index, so nodes whose view of the membership
   * lags can catch up without a leader.
   */
  commitTerm?: number;
}

export interface SnapshotChunk {
  meta: SnapshotMeta;
  /** Byte offset of this chunk within the snapshot data. */
  offset: number;
  data: Uint8Array;
  /** Total length of the snapshot data; the last chunk ends there. */
  total: number;
}

export interface ReadState {
  /** The commit index at the time the read was confirmed; serve the read once applied >= index. */
  index: number;
  context: Uint8Array;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export interface SoftState {
  lead: NodeId;
  role: Role;
}

/**
 * One batch of work handed to the application. Process in this order: persist `snapshot` (if any),
 * `entries` and `hardState` durably; then send `messages`; then apply `snapshot` and `committedEntries`
 * to the state machine; serve `readStates` once applied; then call `advance(ready)`.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  /** Entries to append durably. entries[0].index may be <= the stored last index: truncate from there. */
  entries: Entry[];
  snapshot?: Snapshot;
  messages: Message[];
  committedEntries: Entry[];
  readStates: ReadState[];
}

/** The application's deterministic state machine. */
export interface StateMachine {
  /**
   * Applies one committed normal entry's data (never a no-op or conf change); returns its result.
   * `resultWanted` is false when no caller on this node waits for the result (another node proposed the
   * entry), so the machine may skip building or copying it. `decoded` is what this node's proposer passed
   * as ProposeOptions.decoded for its own entry (what `data` decodes to), so the machine may skip decoding.
   */
  apply(data: Uint8Array, index: number, resultWanted?: boolean, decoded?: unknown): unknown;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

export interface Peer {
  id: NodeId;
  /** host:port */
  addr: string;
}

/** State loaded from storage when a node starts. */
export interface InitialState {
  hardState: HardState;
  snapshot?: Snapshot;
  /** Entries after the snapshot, in order. */
  entries: Entry[];
  /** The cluster this node's state belongs to (Storage.setClusterId); absent until one was stored. */
  clusterId?: string;
}

export interface RaftConfig {
  nodeId: NodeId;
  dataDir: string;
  /** Initial voters; ignored once the log or a snapshot carries a configuration. */
  peers: Peer[];
  /**
   * This node joins a running cluster (etcd's `--initial-cluster-state existing`): it starts with no
   * membership and learns it from the leader's log, after the cluster added it; `peers` then only gives
   * addresses. Without it, a node with an empty log bootstraps a new cluster of `peers`.
   */
  join?: boolean;
  /**
   * Mixed into the cluster id that the founding members derive from `peers` (etcd's
   * --initial-cluster-token): give each cluster its own when two are founded on the same addresses.
   */
  clusterToken?: string;
  /** Milliseconds. Followers time out after a random value in [T, 2T). */
  electionTimeout: number;
  /** Milliseconds. Must be well below the election timeout (at most a fifth of it). */
  heartbeatInterval: number;
  /** Milliseconds of real time per Raft tick (the driver's clock); the timeouts are converted to ticks. */
  tickInterval: number;
  /** Entries applied since the last snapshot that trigger a new snapshot and compaction. */
  snapshotThreshold: number;
  /**
   * A snapshot also waits until the entries applied since the last one hold at least this many times that
   * snapshot's bytes (0: the entry count alone decides). Snapshotting costs the whole state, so with a large
   * state a fixed count would spend more on snapshots than on the log itself; this bounds their cost to a
   * 1/ratio share of the bytes logged, and the retained log to ratio times the state. Redis rewrites its
   * append-only file by the same rule (auto-aof-rewrite-percentage).
   */
  snapshotLogRatio: number;
  /** Entries kept behind a snapshot, so slightly lagging followers avoid a full snapshot. */
  compactionOverhead: number;
  maxAppendEntries: number;
  maxSizePerMsg: number;
  /** In-flight append messages per follower in the replicate state (pipelining window). */
  maxInflightMsgs: number;
  /** Bytes per InstallSnapshot chunk. */
  snapshotChunkSize: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Lease-based reads (off by default; relies on bounded clock drift). */
  leaseRead: boolean;
  /** Largest total size of uncommitted proposals a leader accepts (backpressure), 0 = unlimited. */
  maxUncommittedSize: number;
  /**
   * Milliseconds a leader under load may hold new proposals, once its round committed, for more to join
   * them (Kafka's linger.ms, for replication rounds): only while fewer wait than went in the last round,
   * so a lone client never waits. Default 3 (RaftNode's DEFAULT_PROPOSAL_LINGER_MS); 0 turns it off.
   */
  proposalLingerMs?: number;
}
