/** The Raft core: a pure, deterministic state machine driven through RawNode (see raw-node.ts). */
export { RawNode } from "./raw-node.ts";
export type { FollowerStatus, RawNodeOptions, RaftStatus } from "./raw-node.ts";
export { defaultConfig, electionTicks, heartbeatTicks, validateConfig } from "./config.ts";
export { decodeConfChange, decodeMessage, encodeConfChange, encodeMessage, validateMessage } from "./codec.ts";
export { applyConfChange, confStateOf, isJoint } from "./conf-change.ts";
export { jointCommitIndex, jointVoteResult, majorityCommitIndex, majorityVoteResult } from "./quorum.ts";
export type { VoteResult } from "./quorum.ts";
export type { ProgressState } from "./progress.ts";
export * from "./types.ts";
