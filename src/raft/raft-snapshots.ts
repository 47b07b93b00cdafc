/**
 * Snapshots (etcd-raft `raft.go`): the leader streams its latest snapshot to a lagging follower in chunks,
 * resending from the last acknowledged offset when a chunk stalls; the follower reassembles and installs
 * it; and the application's snapshot compacts the log behind it.
 */
import { StreamBusError } from "../errors.ts";
import { cloneConfState } from "./conf-change.ts";
import type { Progress } from "./progress.ts";
import type { Raft } from "./raft.ts";
import { updateMembership } from "./raft-membership.ts";
import type { ConfState, Message, NodeId, Snapshot } from "./types.ts";

export function sendSnapshot(r: Raft, to: NodeId, pr: Progress): void {
  const s = r.snapshot;
  if (!s) return; // cannot happen: the log is only compacted behind a snapshot
  pr.becomeSnapshot(s.meta.index);
  sendChunk(r, to, pr, 0);
}

export function sendChunk(r: Raft, to: NodeId, pr: Progress, offset: number): void {
  const s = r.snapshot!;
  const total = s.data.length;
  const end = Math.min(total, offset + r.cfg.snapshotChunkSize);
  r.send({
    type: "snap",
    from: r.id,
    to,
    term: r.term,
    snapshot: { meta: s.meta, offset, data: s.data.subarray(offset, end), total },
  });
  pr.snapStall = 0;
}

export function checkSnapshotStalls(r: Raft): void {
  const limit = Math.max(2, Math.ceil(r.electionTicks / r.heartbeatTicks));
  for (const id of r.peerIds) {
    const pr = r.prs.get(id)!;
    if (pr.state !== "snapshot" || ++pr.snapStall < limit) continue;
    // A chunk or its acknowledgement was lost: resend from what the follower confirmed.
    if (r.snapshot && r.snapshot.meta.index === pr.pendingSnapshot) sendChunk(r, id, pr, pr.snapAcked);
    else sendSnapshot(r, id, pr);
  }
}

export function handleSnapResp(r: Raft, m: Message, pr: Progress): void {
  if (pr.state !== "snapshot" || m.index !== pr.pendingSnapshot) return; // stale
  pr.recentActive = true;
  if (m.reject) {
    pr.becomeProbe();
    r.needFlush = true;
    return;
  }
  const s = r.snapshot;
  if (!s || s.meta.index !== pr.pendingSnapshot) {
    sendSnapshot(r, m.from, pr);
    return;
  }
  const offset = m.offset ?? 0;
  if (offset > s.data.length) return;
  pr.snapAcked = offset;
  if (offset < s.data.length) sendChunk(r, m.from, pr, offset);
  // offset === total: the follower installs it and answers with an appResp.
}

export function handleSnapshotChunk(r: Raft, m: Message): void {
  const c = m.snapshot;
  if (!c) return;
  const meta = c.meta;
  const log = r.log;
  if (meta.index <= log.committed) {
    // Stale or older than what we have: report where we are so the leader moves on.
    r.receiver.dropUpTo(log.committed);
    r.send({ type: "appResp", from: r.id, to: m.from, term: r.term, index: log.committed });
    return;
  }
  const out = r.receiver.accept(c);
  switch (out.kind) {
    case "ignore":
      return;
    case "ack":
      r.send({ type: "snapResp", from: r.id, to: m.from, term: r.term, index: meta.index, offset: out.offset });
      return;
    case "reject":
      r.send({ type: "snapResp", from: r.id, to: m.from, term: r.term, index: meta.index, reject: true });
      return;
    case "complete":
      restoreSnapshot(r, out.snapshot);
      r.send({ type: "appResp", from: r.id, to: m.from, term: r.term, index: log.lastIndex() });
  }
}

/** Installs a snapshot from the leader, unless the log already holds its last entry (then just commits). */
export function restoreSnapshot(r: Raft, s: Snapshot): void {
  const log = r.log;
  const { index, term } = s.meta;
  if (index <= log.committed) return;
  if (log.matchTerm(index, term)) {
    log.committed = index; // a matching log suffix is kept; the entries apply normally
    return;
  }
  log.restore(index, term);
  r.conf = cloneConfState(s.meta.conf);
  r.confIndex = index;
  r.confHistory = [{ index, conf: r.conf }];
  if (s.meta.addrs) for (const [k, a] of Object.entries(s.meta.addrs)) r.addrs.set(Number(k), a);
  updateMembership(r);
  r.pendingSnapshot = s;
  r.snapshot = s;
}

/** The application's snapshot at `index` (<= applied); compacts the in-memory log behind it. */
export function createSnapshot(r: Raft, index: number, data: Uint8Array): Snapshot {
  const log = r.log;
  const prev = r.snapshot?.meta.index ?? 0;
  if (!Number.isSafeInteger(index) || index <= prev) {
    throw new StreamBusError("Invalid", `raft: snapshot index ${index} is not past the current snapshot (${prev})`);
  }
  if (index > log.applied) {
    throw new StreamBusError("Invalid", `raft: snapshot index ${index} is past the applied index ${log.applied}; call advance() first`);
  }
  const term = log.term(index);
  if (term === undefined) throw new StreamBusError("Invalid", `raft: index ${index} was compacted`);
  const addrs: Record<string, string> = {};
  for (const id of [...r.addrs.keys()].sort((a, b) => a - b)) addrs[String(id)] = r.addrs.get(id)!;
  const snap: Snapshot = { meta: { index, term, conf: cloneConfState(confAt(r, index)), addrs }, data };
  r.snapshot = snap;
  const compactIndex = Math.min(index - r.cfg.compactionOverhead, log.stable);
  if (compactIndex > log.snapIndex) {
    log.compact(compactIndex);
    let k = 0;
    while (k + 1 < r.confHistory.length && r.confHistory[k + 1].index <= compactIndex) k++;
    if (k > 0) r.confHistory = r.confHistory.slice(k);
  }
  return snap;
}

export function confAt(r: Raft, index: number): ConfState {
  let conf = r.confHistory[0].conf;
  for (const h of r.confHistory) if (h.index <= index) conf = h.conf;
  return conf;
}

export function reportSnapshot(r: Raft, id: NodeId, ok: boolean): void {
  const pr = r.prs.get(id);
  if (r.role !== "leader" || !pr || pr.state !== "snapshot" || ok) return;
  // Completion is signalled by the follower's appResp; only failures matter here.
  pr.becomeProbe();
  pr.probeSent = true;
}
