/**
 * Snapshots (etcd-raft `raft.go`): the leader streams its latest snapshot to a lagging follower in chunks,
 * up to SNAPSHOT_WINDOW_CHUNKS ahead of the follower's acknowledgement (so a large snapshot is not one
 * round trip per chunk), going back to the follower's offset when it reports a gap or the stream stalls;
 * the follower reassembles and installs it; and the application's snapshot compacts the log behind it.
 */
import { StreamBusError } from "../errors.ts";
import { cloneConfState } from "./conf-change.ts";
import type { Progress } from "./progress.ts";
import type { Raft } from "./raft.ts";
import { updateMembership } from "./raft-membership.ts";
import type { ConfState, Message, NodeId, Snapshot } from "./types.ts";

/** Chunks in flight to one follower beyond its acknowledged offset. Links deliver in order, so a window
 * only costs a resend of the window after a lost chunk. */
export const SNAPSHOT_WINDOW_CHUNKS = 4;

export function sendSnapshot(r: Raft, to: NodeId, pr: Progress): void {
  const s = r.snapshot;
  if (!s) return; // cannot happen: the log is only compacted behind a snapshot
  pr.becomeSnapshot(s.meta.index);
  fillSnapshotWindow(r, to, pr);
}

/** Sends chunks from `pr.snapSent` on, until the window past the acknowledged offset is full or all went. */
function fillSnapshotWindow(r: Raft, to: NodeId, pr: Progress): void {
  const s = r.snapshot!;
  const total = s.data.length;
  const size = r.cfg.snapshotChunkSize;
  while (!pr.snapAllSent && pr.snapSent < pr.snapAcked + SNAPSHOT_WINDOW_CHUNKS * size) {
    const offset = pr.snapSent;
    const end = Math.min(total, offset + size);
    r.send({
      type: "snap",
      from: r.id,
      to,
      term: r.term,
      snapshot: { meta: s.meta, offset, data: s.data.subarray(offset, end), total },
    });
    pr.snapSent = end;
    pr.snapAllSent = end === total;
  }
  pr.snapStall = 0;
}

/** Sends again from `offset` (what the follower has). */
function rewindSnapshot(r: Raft, to: NodeId, pr: Progress, offset: number): void {
  pr.snapSent = offset;
  pr.snapAllSent = false;
  fillSnapshotWindow(r, to, pr);
}

export function checkSnapshotStalls(r: Raft): void {
  const limit = Math.max(2, Math.ceil(r.electionTicks / r.heartbeatTicks));
  for (const id of r.peerIds) {
    const pr = r.prs.get(id)!;
    if (pr.state !== "snapshot" || ++pr.snapStall < limit) continue;
    // A chunk or its acknowledgement was lost: resend from what the follower confirmed.
    if (r.snapshot && r.snapshot.meta.index === pr.pendingSnapshot) rewindSnapshot(r, id, pr, pr.snapAcked);
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
  if (offset > s.data.length || offset < pr.snapAcked) return; // malformed, or older than what we know
  if (offset > pr.snapAcked) {
    pr.snapAcked = offset;
    pr.snapRewoundTo = -1;
    fillSnapshotWindow(r, m.from, pr);
  } else if (offset < pr.snapSent && pr.snapRewoundTo !== offset) {
    // The same offset again while later chunks are out: the follower lost the chunk there and is asking
    // for it (once per gap: the other chunks of the window bring the same answer).
    pr.snapRewoundTo = offset;
    rewindSnapshot(r, m.from, pr, offset);
  }
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
