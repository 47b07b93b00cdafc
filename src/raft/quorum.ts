/**
 * Quorum arithmetic as pure functions (etcd-raft `quorum/`): the commit index and the vote outcome of a
 * majority configuration and of a joint one (C_old,new needs a majority of both halves).
 */
import type { NodeId } from "./types.ts";

export type VoteResult = "won" | "lost" | "pending";

// Reused sort buffer: commit indexes are computed on every acknowledgement, so avoid allocating.
const scratch: number[] = [];

/**
 * The largest index that a majority of `voters` has matched. An empty configuration imposes no limit
 * (Infinity), so that a joint configuration with an empty half reduces to the other half.
 *
 * @example
 * majorityCommitIndex([1, 2, 3], (id) => [0, 5, 7, 9][id]); // 7
 */
export function majorityCommitIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return Infinity;
  if (n === 1) return matchOf(voters[0]);
  for (let i = 0; i < n; i++) {
    const v = matchOf(voters[i]);
    let j = i;
    while (j > 0 && scratch[j - 1] < v) {
      scratch[j] = scratch[j - 1];
      j--;
    }
    scratch[j] = v;
  }
  return scratch[n >> 1];
}

/** Commit index of a (possibly joint) configuration: the smaller of both halves' majority indexes. */
export function jointCommitIndex(
  incoming: readonly NodeId[],
  outgoing: readonly NodeId[],
  matchOf: (id: NodeId) => number,
): number {
  const a = majorityCommitIndex(incoming, matchOf);
  return outgoing.length === 0 ? a : Math.min(a, majorityCommitIndex(outgoing, matchOf));
}

/**
 * Outcome of an election (or any yes/no poll) in a majority configuration. `voteOf` returns true for a
 * grant, false for a rejection, undefined when the voter has not answered. An empty configuration wins.
 */
export function majorityVoteResult(voters: readonly NodeId[], voteOf: (id: NodeId) => boolean | undefined): VoteResult {
  const n = voters.length;
  if (n === 0) return "won";
  let granted = 0, missing = 0;
  for (let i = 0; i < n; i++) {
    const v = voteOf(voters[i]);
    if (v === true) granted++;
    else if (v === undefined) missing++;
  }
  const q = (n >> 1) + 1;
  if (granted >= q) return "won";
  if (granted + missing >= q) return "pending";
  return "lost";
}

/** Joint outcome: won only if both halves won, lost as soon as either lost. */
export function jointVoteResult(
  incoming: readonly NodeId[],
  outgoing: readonly NodeId[],
  voteOf: (id: NodeId) => boolean | undefined,
): VoteResult {
  const a = majorityVoteResult(incoming, voteOf);
  if (outgoing.length === 0) return a;
  const b = majorityVoteResult(outgoing, voteOf);
  if (a === b) return a;
  if (a === "lost" || b === "lost") return "lost";
  return "pending";
}
