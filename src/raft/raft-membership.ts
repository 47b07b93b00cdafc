/**
 * Membership (etcd-raft `confchange/`, applied as in `raft.go`): a change takes effect when its entry is
 * applied, progress tracking follows the configuration, and a joint configuration is left automatically.
 */
import { StreamBusError } from "../errors.ts";
import { decodeConfChange, encodeConfChange } from "./codec.ts";
import { allMembers, applyConfChange, isJoint } from "./conf-change.ts";
import { Progress } from "./progress.ts";
import type { Raft } from "./raft.ts";
import { leaderTransfer } from "./raft-reads.ts";
import { type ConfChange, type ConfState, type Entry, NONE } from "./types.ts";

export function hasUnappliedConfChange(r: Raft): boolean {
  const log = r.log;
  // Changes already in effect (taken into account at start-up) do not count.
  for (let i = Math.max(log.applied, log.snapIndex, r.confIndex) + 1; i <= log.committed; i++) {
    if (log.entry(i).type === "confChange") return true;
  }
  return false;
}

/** Validates a configuration change on the leader and returns its encoded entry data. */
export function checkConfChange(r: Raft, cc: ConfChange): Uint8Array {
  if (r.log.applied < r.termStartIndex) {
    throw new StreamBusError("Unavailable", "raft: the new leader has not yet applied an entry of its term; retry the membership change shortly");
  }
  if (r.pendingConfIndex > r.log.applied) {
    throw new StreamBusError("Conflict", `raft: a membership change (index ${r.pendingConfIndex}) is still in flight; one at a time`);
  }
  applyConfChange(r.conf, cc); // throws if it breaks a rule
  return encodeConfChange(cc);
}

/**
 * Applies the committed configuration change in `e` (once). An invalid change is skipped the same way
 * on every node, since the outcome depends only on the log.
 */
export function applyConfEntry(r: Raft, e: Entry, update = true): void {
  if (e.index <= r.confIndex) return;
  r.confIndex = e.index;
  let cc: ConfChange, next: ConfState;
  try {
    cc = decodeConfChange(e.data);
    next = applyConfChange(r.conf, cc);
  } catch {
    return;
  }
  r.conf = next;
  r.confHistory.push({ index: e.index, conf: next });
  for (const ch of cc.changes) {
    if (ch.type !== "removeNode" && ch.addr !== undefined) r.addrs.set(ch.nodeId, ch.addr);
  }
  if (update) updateMembership(r);
}

/** Brings progress tracking in line with `conf`; a leader that is no longer a voter steps down. */
export function updateMembership(r: Raft): void {
  const members = allMembers(r.conf);
  const next = r.log.lastIndex() + 1;
  for (const id of members) {
    if (!r.prs.has(id)) {
      const pr = new Progress(next, r.cfg.maxInflightMsgs);
      if (id === r.id) pr.match = next - 1;
      r.prs.set(id, pr);
    }
  }
  const set = new Set(members);
  for (const id of [...r.prs.keys()]) {
    if (!set.has(id)) {
      r.prs.delete(id);
      r.addrs.delete(id);
    }
  }
  r.peerIds = members.filter((id) => id !== r.id);
  r.voterIds = [...new Set([...r.conf.voters, ...r.conf.votersOutgoing])].sort((a, b) => a - b);
  r.isVoter = r.voterIds.includes(r.id);
  if (r.leadTransferee !== NONE && !r.conf.voters.includes(r.leadTransferee)) r.leadTransferee = NONE;
  if (r.role !== "leader") return;
  r.needFlush = true;
  if (!r.isVoter) {
    // Removed (or demoted) leader. Stepping down at once could strand the cluster: a voter that has not
    // yet applied the change may still need this node's vote, which it only gets with a log at least as
    // up to date. So keep replicating (this node's vote no longer counts), refuse proposals, bring the
    // most up-to-date voter level and hand over to it; give up after an election timeout (tickLeader).
    let heir = NONE, best = -1;
    for (const id of r.conf.voters) {
      const m = r.prs.get(id)?.match ?? 0;
      if (m > best) {
        best = m;
        heir = id;
      }
    }
    if (heir !== NONE && heir !== r.leadTransferee) {
      r.leadTransferee = NONE;
      leaderTransfer(r, heir, false);
    }
  }
}

/** Leader: proposes leaving a joint configuration once it is applied (autoLeave). */
export function maybeAutoLeave(r: Raft): void {
  if (r.role !== "leader" || !isJoint(r.conf) || !r.conf.autoLeave) return;
  if (r.pendingConfIndex > r.log.applied || r.log.applied < r.termStartIndex) return;
  r.pendingConfIndex = r.appendLeader("confChange", encodeConfChange({ changes: [], leaveJoint: true }));
}
