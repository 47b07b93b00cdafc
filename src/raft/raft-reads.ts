/**
 * ReadIndex and leadership transfer on the leader (etcd-raft `raft.go`, `read_only.go`): a read is served
 * at the commit index once a quorum confirms leadership; a transfer brings the target level, then tells it
 * to campaign at once.
 */
import { StreamBusError } from "../errors.ts";
import type { Raft } from "./raft.ts";
import { sendAppend } from "./raft-replication.ts";
import { type NodeId, NONE } from "./types.ts";

/** Leader: serves a ReadIndex request from `from` (this node for a local read). */
export function leaderReadIndex(r: Raft, from: NodeId, context: Uint8Array): void {
  if (!r.committedCurrentTerm) {
    // The commit index is only known to be current once an entry of this term committed.
    r.reads.queued.push({ from, context });
    return;
  }
  if ((r.voterIds.length === 1 && r.voterIds[0] === r.id) || r.cfg.leaseRead) {
    respondRead(r, from, r.log.committed, context);
    return;
  }
  r.reads.add(r.id, from, r.log.committed, context);
  r.needFlush = true;
}

export function respondRead(r: Raft, from: NodeId, index: number, context: Uint8Array): void {
  if (from === r.id || from === NONE) r.readStates.push({ index, context });
  else r.send({ type: "readIndexResp", from: r.id, to: from, term: r.term, index, context });
}

/** Leader: starts a transfer to `target`; `local` calls throw on a bad target, forwarded ones are dropped. */
export function leaderTransfer(r: Raft, target: NodeId, local: boolean): void {
  if (target === r.id) return;
  if (!r.conf.voters.includes(target)) {
    if (local) throw new StreamBusError("Invalid", `raft: node ${target} is not a voter and cannot take over leadership`);
    return;
  }
  if (r.leadTransferee === target) return;
  r.leadTransferee = target;
  r.electionElapsed = 0; // the transfer is abandoned after one election timeout
  const pr = r.prs.get(target)!;
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, target);
  else if (pr.state !== "snapshot") sendAppend(r, target, pr, true); // may reveal a lost append at once
}

export function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.send({ type: "timeoutNow", from: r.id, to, term: r.term });
}
