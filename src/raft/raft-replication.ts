/**
 * Log replication (etcd-raft `raft.go`): the leader's side (lazy flush of appends and commit updates,
 * the commit rule, flow control and fast backtracking) and the follower's (appends and heartbeats).
 */
import { StreamBusError } from "../errors.ts";
import type { Progress } from "./progress.ts";
import { jointCommitIndex, jointVoteResult } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import { NO_ENTRIES } from "./raft-log.ts";
import { leaderReadIndex, respondRead, sendTimeoutNow } from "./raft-reads.ts";
import { sendSnapshot } from "./raft-snapshots.ts";
import type { Message, NodeId } from "./types.ts";

/** Emits the appends, commit updates and read confirmations that accumulated since the last flush. */
export function flush(r: Raft): void {
  if (!r.needFlush) return;
  r.needFlush = false;
  if (r.role !== "leader") return;
  maybeCommit(r);
  const commit = r.log.committed;
  for (const id of r.peerIds) {
    const pr = r.prs.get(id)!;
    if (pr.state === "snapshot") {
      if (r.snapshot && pr.pendingSnapshot !== r.snapshot.meta.index) sendSnapshot(r, id, pr);
      continue;
    }
    while (sendAppend(r, id, pr, false));
    if (pr.state === "replicate" && pr.sentCommit < Math.min(commit, pr.match)) {
      // Commit-only update; anchored at match so it can never be rejected.
      const t = r.log.term(pr.match);
      if (t !== undefined) {
        r.send({ type: "app", from: r.id, to: id, term: r.term, index: pr.match, logTerm: t, entries: NO_ENTRIES, commit });
        pr.sentCommit = Math.min(commit, pr.match);
      }
    }
  }
  const readCtx = r.reads.takeBroadcast();
  if (readCtx) bcastHeartbeat(r, readCtx);
}

/** Advances the commit index to what a quorum matched, counting only entries of the current term. */
export function maybeCommit(r: Raft): boolean {
  const self = r.prs.get(r.id);
  const last = r.log.lastIndex();
  if (self) {
    self.match = last;
    self.next = last + 1;
  }
  const idx = jointCommitIndex(r.conf.voters, r.conf.votersOutgoing, r.matchOf);
  if (idx === Infinity || idx <= r.log.committed || r.log.term(idx) !== r.term) return false;
  r.log.committed = idx;
  if (!r.committedCurrentTerm && idx >= r.termStartIndex) {
    r.committedCurrentTerm = true;
    const queued = r.reads.queued;
    r.reads.queued = [];
    for (const q of queued) leaderReadIndex(r, q.from, q.context);
  }
  return true;
}

/** Sends one append to `to` if flow control allows; returns whether entries were sent. */
export function sendAppend(r: Raft, to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
  if (pr.isPaused()) return false;
  const log = r.log;
  const last = log.lastIndex();
  if (pr.next > last + 1) pr.next = last + 1;
  if (pr.next > last && !sendIfEmpty) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = log.term(prevIndex);
  if (prevTerm === undefined) {
    sendSnapshot(r, to, pr);
    return false;
  }
  const ents = pr.next > last ? NO_ENTRIES : log.entriesForSend(pr.next, r.cfg.maxAppendEntries, r.cfg.maxSizePerMsg);
  const commit = log.committed;
  r.send({ type: "app", from: r.id, to, term: r.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit });
  const lastSent = prevIndex + ents.length;
  pr.sentCommit = Math.min(commit, lastSent);
  pr.sentEntries(ents.length, lastSent);
  return ents.length > 0;
}

export function handleAppResp(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  const index = m.index ?? 0;
  if (m.reject) {
    let hint = m.rejectHint ?? 0;
    const conflictTerm = m.conflictTerm ?? 0;
    if (conflictTerm > 0) hint = r.log.findConflictByTerm(hint, conflictTerm);
    if (pr.maybeDecrTo(index, hint)) {
      if (pr.state === "replicate") pr.becomeProbe();
      r.needFlush = true;
    }
    return;
  }
  if (m.index === undefined) return; // a term notification only
  const wasPaused = pr.isPaused();
  if (pr.maybeUpdate(index)) {
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && pr.match + 1 >= r.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === "replicate") pr.inflights.freeLE(index);
    r.needFlush = true;
    if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
  } else if (wasPaused) {
    r.needFlush = true;
  }
}

export function handleHeartbeatResp(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
  // An answer while behind: resend (an empty append in replicate state detects a lost message).
  if (pr.match < r.log.lastIndex() && pr.state !== "snapshot") sendAppend(r, m.from, pr, true);
  if (m.context && r.reads.pending.length > 0) {
    const confirmed = (acks: Set<NodeId>) =>
      jointVoteResult(r.conf.voters, r.conf.votersOutgoing, (id) => (acks.has(id) ? true : undefined)) === "won";
    for (const a of r.reads.ack(m.from, m.context, confirmed)) respondRead(r, a.from, a.index, a.context);
  }
}

export function bcastHeartbeat(r: Raft, ctx: Uint8Array | undefined): void {
  if (ctx === undefined) ctx = r.reads.latestContext();
  const commit = r.log.committed;
  for (const id of r.peerIds) {
    const pr = r.prs.get(id)!;
    const m: Message = { type: "heartbeat", from: r.id, to: id, term: r.term, commit: Math.min(pr.match, commit) };
    if (ctx) m.context = ctx;
    r.send(m);
  }
}

export function handleAppend(r: Raft, m: Message): void {
  const log = r.log;
  const prevIndex = m.index ?? 0;
  if (prevIndex < log.committed) {
    r.send({ type: "appResp", from: r.id, to: m.from, term: r.term, index: log.committed });
    return;
  }
  if (log.matchTerm(prevIndex, m.logTerm ?? 0)) {
    const ents = m.entries ?? NO_ENTRIES;
    for (let i = 0; i < ents.length; i++) {
      if (ents[i].index !== prevIndex + 1 + i) {
        throw new StreamBusError("Invalid", `raft: append from ${m.from} has entry index ${ents[i].index} where ${prevIndex + 1 + i} belongs`);
      }
    }
    const lastNew = log.appendAfter(prevIndex, ents);
    const c = Math.min(m.commit ?? 0, lastNew);
    if (c > log.committed) log.committed = c;
    r.send({ type: "appResp", from: r.id, to: m.from, term: r.term, index: lastNew });
    return;
  }
  // Fast backtracking: point the leader at the last entry that can possibly match.
  const hint = log.findConflictByTerm(Math.min(prevIndex, log.lastIndex()), m.logTerm ?? 0);
  r.send({
    type: "appResp",
    from: r.id,
    to: m.from,
    term: r.term,
    index: prevIndex,
    reject: true,
    rejectHint: hint,
    conflictTerm: log.term(hint) ?? 0,
  });
}

export function handleHeartbeat(r: Raft, m: Message): void {
  const c = Math.min(m.commit ?? 0, r.log.lastIndex());
  if (c > r.log.committed) r.log.committed = c;
  const resp: Message = { type: "heartbeatResp", from: r.id, to: m.from, term: r.term };
  if (m.context) resp.context = m.context;
  r.send(resp);
}

export function reportUnreachable(r: Raft, id: NodeId): void {
  const pr = r.prs.get(id);
  if (r.role === "leader" && pr && pr.state === "replicate") pr.becomeProbe();
}
