/**
 * The Raft protocol state machine (etcd-raft `raft.go`): elections with PreVote and CheckQuorum, log
 * replication with flow control, snapshots in chunks, ReadIndex, leadership transfer and membership.
 * Pure and deterministic: no I/O, no clock, randomness only from the injected Random. `RawNode` wraps it
 * with the Ready/advance protocol; use that, not this class.
 *
 * Sending is lazy on the leader: proposals and acknowledgements only mark work (`needFlush`), and `flush()`
 * (called when a Ready is built) emits as few, as full append messages as flow control allows.
 *
 * Choices beyond etcd-raft, each explained where it is made:
 * - a new cluster's entry 1 is a committed confChange listing the initial voters (nodes added later learn
 *   the membership from the log); a log without one falls back to `config.peers`;
 * - the leader lease (ignore campaigns while a leader is live) is always on, not only with CheckQuorum;
 * - vote traffic carries the sender's commit index (`commitTerm`), so voters whose view of the membership
 *   lags can apply the change and elect without a leader;
 * - a removed leader hands over to its most up-to-date voter before stepping down.
 */
import { StreamBusError } from "../errors.ts";
import type { Random } from "../rng.ts";
import { decodeConfChange, encodeConfChange } from "./codec.ts";
import { electionTicks, heartbeatTicks, validateConfig } from "./config.ts";
import { allMembers, applyConfChange, cloneConfState, confStateOf, isJoint } from "./conf-change.ts";
import { Progress } from "./progress.ts";
import { jointCommitIndex, jointVoteResult } from "./quorum.ts";
import { RaftLog } from "./raft-log.ts";
import { ReadOnly } from "./read-only.ts";
import { SnapshotReceiver } from "./snapshot-receiver.ts";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type InitialState,
  type Message,
  type MessageType,
  type NodeId,
  NONE,
  type RaftConfig,
  type ReadState,
  type Role,
  type Snapshot,
} from "./types.ts";

const EMPTY = new Uint8Array(0);
const NO_ENTRIES: Entry[] = [];

export class Raft {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  private readonly random: Random;

  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = "follower";
  readonly log = new RaftLog();

  /** Membership in effect (changes take effect when their entry is applied). */
  conf: ConfState;
  /** Index of the last configuration change applied to `conf`. */
  confIndex = 0;
  /** Configurations by the index they took effect at (for snapshots taken below the applied index). */
  private confHistory: { index: number; conf: ConfState }[] = [];
  readonly addrs = new Map<NodeId, string>();
  prs = new Map<NodeId, Progress>();
  /** Every member but this node, sorted (broadcast order). */
  peerIds: NodeId[] = [];
  /** Voters of both halves, sorted. */
  voterIds: NodeId[] = [];
  /** Whether this node may campaign (a voter of either half). */
  isVoter = false;

  votes = new Map<NodeId, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NONE;
  /** Leader: index of the latest configuration change proposed (one in flight at a time). */
  pendingConfIndex = 0;
  /** Leader: index of its no-op; an entry of its term is committed once commit reaches it. */
  termStartIndex = 0;
  committedCurrentTerm = false;
  uncommittedSize = 0;
  /** Leader: appends, commit propagation or read confirmations are waiting for flush(). */
  needFlush = false;

  /** Latest snapshot (supplied by the application or installed from a leader), streamed to lagging followers. */
  snapshot: Snapshot | undefined;
  /** Installed from the leader, not yet handed to the application in a Ready. */
  pendingSnapshot: Snapshot | undefined;
  private readonly receiver = new SnapshotReceiver();
  private readonly reads = new ReadOnly();

  private readonly matchOf = (id: NodeId): number => this.prs.get(id)?.match ?? 0;
  private readonly voteOf = (id: NodeId): boolean | undefined => this.votes.get(id);
  private readonly activeOf = (id: NodeId): boolean => id === this.id || (this.prs.get(id)?.recentActive ?? false);

  constructor(cfg: RaftConfig, initial: InitialState, random: Random) {
    validateConfig(cfg);
    this.cfg = cfg;
    this.id = cfg.nodeId;
    this.random = random;
    this.electionTicks = electionTicks(cfg);
    this.heartbeatTicks = heartbeatTicks(cfg);
    for (const p of cfg.peers) this.addrs.set(p.id, p.addr);

    const log = this.log;
    const snap = initial.snapshot;
    let base = 0;
    if (snap) {
      base = snap.meta.index;
      log.snapIndex = log.committed = log.stable = log.persisting = log.applying = log.applied = base;
      log.snapTerm = snap.meta.term;
      this.conf = cloneConfState(snap.meta.conf);
      this.confIndex = base;
      if (snap.meta.addrs) for (const [k, a] of Object.entries(snap.meta.addrs)) this.addrs.set(Number(k), a);
      this.snapshot = snap;
    } else {
      this.conf = confStateOf([]);
    }
    this.confHistory.push({ index: base, conf: this.conf });

    const hs = initial.hardState;
    let ents = initial.entries;
    let commit = Math.max(hs.commit, base);
    this.term = hs.term;
    this.vote = hs.vote;
    if (!snap && ents.length === 0 && commit === 0 && cfg.peers.length > 0) {
      // A new cluster: entry 1 lists the initial voters, identical on every initial member and committed
      // by construction (as in etcd), so a node added later learns the membership from the log.
      const changes = [...cfg.peers].sort((a, b) => a.id - b.id).map((p) => ({ type: "addVoter" as const, nodeId: p.id, addr: p.addr }));
      ents = [{ term: 1, index: 1, type: "confChange", data: encodeConfChange({ changes }) }];
      commit = 1;
      if (this.term < 1) this.term = 1;
    }
    if (ents.length > 0 && ents[0].index <= base) ents = ents.filter((e) => e.index > base);
    for (let i = 0; i < ents.length; i++) {
      if (ents[i].index !== base + 1 + i) {
        throw new StreamBusError("Corrupt", `raft: stored log is not contiguous at index ${ents[i].index} (expected ${base + 1 + i})`);
      }
    }
    log.ents = ents === initial.entries ? ents.slice() : ents;
    log.stable = log.persisting = initial.entries.length > 0 ? log.lastIndex() : base;
    if (commit > log.lastIndex()) {
      throw new StreamBusError("Corrupt", `raft: stored commit index ${commit} is past the last stored entry ${log.lastIndex()}`);
    }
    log.committed = commit;
    // Membership is part of the committed log: take committed changes into account before the replay.
    for (let i = base + 1; i <= commit; i++) {
      const e = log.entry(i);
      if (e.type === "confChange") this.applyConfEntry(e, false);
    }
    // A log written without a bootstrap entry (and no snapshot): the configured peers are the voters.
    if (this.conf.voters.length === 0 && this.conf.learners.length === 0 && cfg.peers.length > 0) {
      this.conf = confStateOf(cfg.peers.map((p) => p.id));
      this.confHistory = [{ index: base, conf: this.conf }];
    }
    this.updateMembership();
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + this.random.int(this.electionTicks);
    this.leadTransferee = NONE;
    this.votes.clear();
    this.reads.reset();
    this.committedCurrentTerm = false;
    this.uncommittedSize = 0;
    this.pendingConfIndex = 0;
    this.termStartIndex = 0;
    this.needFlush = false;
    const next = this.log.lastIndex() + 1;
    for (const id of this.prs.keys()) {
      const pr = new Progress(next, this.cfg.maxInflightMsgs);
      if (id === this.id) pr.match = next - 1;
      this.prs.set(id, pr);
    }
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
  }

  private becomePreCandidate(): void {
    // PreVote does not touch term or vote: a node cut off from the cluster cannot inflate its term.
    this.votes.clear();
    this.lead = NONE;
    this.role = "preCandidate";
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    this.prs.get(this.id)?.becomeReplicate();
    // The no-op lets the leader commit entries of earlier terms (Figure 8) and confirms reads.
    this.appendLeader("normal", EMPTY);
    this.termStartIndex = this.log.lastIndex();
    this.pendingConfIndex = this.log.lastIndex();
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.isVoter && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        const ok = jointVoteResult(this.conf.voters, this.conf.votersOutgoing, this.activeOf) === "won";
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
        if (!ok) {
          this.becomeFollower(this.term, NONE);
          return;
        }
      }
      if (!this.isVoter) {
        // A removed leader whose hand-over did not complete: step down, the voters elect among themselves.
        this.becomeFollower(this.term, NONE);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned; proposals resume.
      this.leadTransferee = NONE;
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(undefined);
      this.checkSnapshotStalls();
    }
  }

  // ---------------------------------------------------------------- elections

  /** Starts an election (a pre-election first when PreVote is on, unless it comes from a transfer). */
  hup(transfer: boolean): void {
    if (this.role === "leader" || !this.isVoter || this.hasUnappliedConfChange()) return;
    if (this.cfg.preVote && !transfer) this.campaign("preVote", false);
    else this.campaign("vote", transfer);
  }

  private hasUnappliedConfChange(): boolean {
    const log = this.log;
    // Changes already in effect (taken into account at start-up) do not count.
    for (let i = Math.max(log.applied, log.snapIndex, this.confIndex) + 1; i <= log.committed; i++) {
      if (log.entry(i).type === "confChange") return true;
    }
    return false;
  }

  private campaign(kind: "vote" | "preVote", transfer: boolean): void {
    let voteTerm: number;
    if (kind === "preVote") {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      if (kind === "preVote") this.campaign("vote", false);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex(), lastTerm = this.log.lastTerm();
    const commit = this.log.committed, commitTerm = this.log.term(commit) ?? 0;
    for (const id of this.voterIds) {
      if (id === this.id) continue;
      const m: Message = { type: kind, from: this.id, to: id, term: voteTerm, logTerm: lastTerm, index: lastIndex, commit, commitTerm };
      if (transfer) m.transfer = true;
      this.msgs.push(m);
    }
  }

  private poll(id: NodeId, granted: boolean) {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return jointVoteResult(this.conf.voters, this.conf.votersOutgoing, this.voteOf);
  }

  // ---------------------------------------------------------------- step

  step(m: Message): void {
    if (m.commitTerm !== undefined && m.commit !== undefined && m.commit > this.log.committed) this.learnCommit(m.commit, m.commitTerm);
    if (m.term === 0) {
      // Local messages and forwarded proposals / reads / transfers carry no term.
    } else if (m.term > this.term) {
      if (m.type === "vote" || m.type === "preVote") {
        // Leader lease (Raft thesis 4.2.3): a node that heard from a live leader within the election timeout
        // ignores campaigns, so a rejoining, removed or partially connected node cannot depose a healthy
        // leader. Always on: without it a removed node that never learns of its removal disrupts forever.
        const inLease = this.lead !== NONE && this.electionElapsed < this.electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.type === "preVote") {
        // Never change term on a pre-vote request.
      } else if (m.type === "preVoteResp" && !m.reject) {
        // The term is taken when the real election starts.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === "app" || m.type === "heartbeat") {
        // Tell a stale leader about the newer term (it steps down); with the lease above, a node whose term
        // grew while cut off would otherwise never rejoin.
        this.send({ type: "appResp", from: this.id, to: m.from, term: this.term });
      } else if (m.type === "preVote") {
        this.voteResp("preVoteResp", m.from, this.term, true);
      }
      return;
    }

    switch (m.type) {
      case "hup":
        this.hup(false);
        return;
      case "vote":
      case "preVote": {
        const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) ||
          (m.type === "preVote" && m.term > this.term);
        const respType: MessageType = m.type === "vote" ? "voteResp" : "preVoteResp";
        if (canVote && this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) {
          this.voteResp(respType, m.from, m.term, false);
          if (m.type === "vote") {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.voteResp(respType, m.from, this.term, true);
        }
        return;
      }
    }
    if (this.role === "leader") this.stepLeader(m);
    else if (this.role === "follower") this.stepFollower(m);
    else this.stepCandidate(m);
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  /**
   * Commit gossip on election traffic. Configuration changes take effect when applied, so after a change
   * the voters' views of the membership can differ, and one that lags may need the vote of a node whose
   * log is longer, while the only nodes that know the change committed cannot campaign: no election
   * could succeed. An index another node knows committed is committed everywhere that holds the same
   * entry (Log Matching), so adopting it is safe and lets the lagging node apply the change.
   */
  private learnCommit(commit: number, commitTerm: number): void {
    if (commitTerm > 0 && this.log.term(commit) === commitTerm) this.log.committed = commit;
  }

  private voteResp(type: MessageType, to: NodeId, term: number, reject: boolean): void {
    const commit = this.log.committed;
    this.send({ type, from: this.id, to, term, reject, commit, commitTerm: this.log.term(commit) ?? 0 });
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "beat":
        this.bcastHeartbeat(undefined);
        return;
      case "prop":
        if (m.entries) this.acceptForwarded(m.entries);
        return;
      case "readIndex":
        this.leaderReadIndex(m.from, m.context ?? EMPTY);
        return;
      case "transferLeader":
        if (m.index !== undefined) this.leaderTransfer(m.index, false);
        return;
    }
    const pr = this.prs.get(m.from);
    if (!pr || m.from === this.id) return;
    switch (m.type) {
      case "appResp":
        this.handleAppResp(m, pr);
        return;
      case "heartbeatResp":
        this.handleHeartbeatResp(m, pr);
        return;
      case "snapResp":
        this.handleSnapResp(m, pr);
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "prop":
      case "readIndex":
        if (this.lead !== NONE) this.send({ ...m, from: m.from, to: this.lead, term: 0 });
        return;
      case "transferLeader":
        if (this.lead !== NONE) this.send({ type: "transferLeader", from: this.id, to: this.lead, term: 0, index: m.index });
        return;
      case "app":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case "snap":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshotChunk(m);
        return;
      case "timeoutNow":
        // Leadership transfer: campaign at once, skipping PreVote and the lease of the other followers.
        this.hup(true);
        return;
      case "readIndexResp":
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? EMPTY });
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "app":
      case "heartbeat":
      case "snap":
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case "voteResp":
      case "preVoteResp": {
        if ((m.type === "voteResp") !== (this.role === "candidate")) return;
        const res = this.poll(m.from, !m.reject);
        if (res === "won") {
          if (this.role === "preCandidate") this.campaign("vote", false);
          else this.becomeLeader();
        } else if (res === "lost") {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  // ---------------------------------------------------------------- proposals

  /** Appends an entry on the leader. */
  appendLeader(type: Entry["type"], data: Uint8Array): number {
    const index = this.log.lastIndex() + 1;
    this.log.push({ term: this.term, index, type, data });
    this.uncommittedSize += data.length;
    this.needFlush = true;
    return index;
  }

  /** Leader-side checks shared by local and forwarded proposals; throws StreamBusError. */
  checkProposal(size: number): void {
    if (!this.isVoter) {
      throw new StreamBusError("Unavailable", `raft: node ${this.id} was removed from the voters and is handing over leadership; retry shortly`);
    }
    if (this.leadTransferee !== NONE) {
      throw new StreamBusError("Unavailable", `raft: leadership is being transferred to node ${this.leadTransferee}; retry shortly`, {
        leaderId: this.id,
      });
    }
    const max = this.cfg.maxUncommittedSize;
    if (max > 0 && this.uncommittedSize > 0 && this.uncommittedSize + size > max) {
      throw new StreamBusError("Unavailable", `raft: ${this.uncommittedSize} bytes of proposals are uncommitted (limit ${max}); retry shortly`);
    }
  }

  /** Validates a configuration change on the leader and returns its encoded entry data. */
  checkConfChange(cc: ConfChange): Uint8Array {
    if (this.log.applied < this.termStartIndex) {
      throw new StreamBusError("Unavailable", "raft: the new leader has not yet applied an entry of its term; retry the membership change shortly");
    }
    if (this.pendingConfIndex > this.log.applied) {
      throw new StreamBusError("Conflict", `raft: a membership change (index ${this.pendingConfIndex}) is still in flight; one at a time`);
    }
    applyConfChange(this.conf, cc); // throws if it breaks a rule
    return encodeConfChange(cc);
  }

  private acceptForwarded(entries: readonly Entry[]): void {
    for (const e of entries) {
      try {
        this.checkProposal(e.data.length);
        if (e.type === "confChange") {
          const data = this.checkConfChange(decodeConfChange(e.data));
          this.pendingConfIndex = this.appendLeader("confChange", data);
        } else {
          this.appendLeader("normal", e.data);
        }
      } catch {
        // A forwarded proposal that is refused is dropped; its proposer times out and retries.
      }
    }
  }

  // ---------------------------------------------------------------- replication (leader)

  /** Emits the appends, commit updates and read confirmations that accumulated since the last flush. */
  flush(): void {
    if (!this.needFlush) return;
    this.needFlush = false;
    if (this.role !== "leader") return;
    this.maybeCommit();
    const commit = this.log.committed;
    for (const id of this.peerIds) {
      const pr = this.prs.get(id)!;
      if (pr.state === "snapshot") {
        if (this.snapshot && pr.pendingSnapshot !== this.snapshot.meta.index) this.sendSnapshot(id, pr);
        continue;
      }
      while (this.sendAppend(id, pr, false));
      if (pr.state === "replicate" && pr.sentCommit < Math.min(commit, pr.match)) {
        // Commit-only update; anchored at match so it can never be rejected.
        const t = this.log.term(pr.match);
        if (t !== undefined) {
          this.send({ type: "app", from: this.id, to: id, term: this.term, index: pr.match, logTerm: t, entries: NO_ENTRIES, commit });
          pr.sentCommit = Math.min(commit, pr.match);
        }
      }
    }
    const readCtx = this.reads.takeBroadcast();
    if (readCtx) this.bcastHeartbeat(readCtx);
  }

  /** Advances the commit index to what a quorum matched, counting only entries of the current term. */
  private maybeCommit(): boolean {
    const self = this.prs.get(this.id);
    const last = this.log.lastIndex();
    if (self) {
      self.match = last;
      self.next = last + 1;
    }
    const idx = jointCommitIndex(this.conf.voters, this.conf.votersOutgoing, this.matchOf);
    if (idx === Infinity || idx <= this.log.committed || this.log.term(idx) !== this.term) return false;
    this.log.committed = idx;
    if (!this.committedCurrentTerm && idx >= this.termStartIndex) {
      this.committedCurrentTerm = true;
      const queued = this.reads.queued;
      this.reads.queued = [];
      for (const r of queued) this.leaderReadIndex(r.from, r.context);
    }
    return true;
  }

  /** Sends one append to `to` if flow control allows; returns whether entries were sent. */
  private sendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    const log = this.log;
    const last = log.lastIndex();
    if (pr.next > last + 1) pr.next = last + 1;
    if (pr.next > last && !sendIfEmpty) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = log.term(prevIndex);
    if (prevTerm === undefined) {
      this.sendSnapshot(to, pr);
      return false;
    }
    const ents = pr.next > last ? NO_ENTRIES : log.entriesForSend(pr.next, this.cfg.maxAppendEntries, this.cfg.maxSizePerMsg);
    const commit = log.committed;
    this.send({ type: "app", from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, entries: ents, commit });
    const lastSent = prevIndex + ents.length;
    pr.sentCommit = Math.min(commit, lastSent);
    pr.sentEntries(ents.length, lastSent);
    return ents.length > 0;
  }

  private handleAppResp(m: Message, pr: Progress): void {
    pr.recentActive = true;
    const index = m.index ?? 0;
    if (m.reject) {
      let hint = m.rejectHint ?? 0;
      const conflictTerm = m.conflictTerm ?? 0;
      if (conflictTerm > 0) hint = this.log.findConflictByTerm(hint, conflictTerm);
      if (pr.maybeDecrTo(index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.needFlush = true;
      }
      return;
    }
    if (m.index === undefined) return; // a term notification only
    const wasPaused = pr.isPaused();
    if (pr.maybeUpdate(index)) {
      if (pr.state === "probe") pr.becomeReplicate();
      else if (pr.state === "snapshot" && pr.match + 1 >= this.log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === "replicate") pr.inflights.freeLE(index);
      this.needFlush = true;
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    } else if (wasPaused) {
      this.needFlush = true;
    }
  }

  private handleHeartbeatResp(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    // An answer while behind: resend (an empty append in replicate state detects a lost message).
    if (pr.match < this.log.lastIndex() && pr.state !== "snapshot") this.sendAppend(m.from, pr, true);
    if (m.context && this.reads.pending.length > 0) {
      const confirmed = (acks: Set<NodeId>) =>
        jointVoteResult(this.conf.voters, this.conf.votersOutgoing, (id) => (acks.has(id) ? true : undefined)) === "won";
      for (const r of this.reads.ack(m.from, m.context, confirmed)) this.respondRead(r.from, r.index, r.context);
    }
  }

  private bcastHeartbeat(ctx: Uint8Array | undefined): void {
    if (ctx === undefined) ctx = this.reads.latestContext();
    const commit = this.log.committed;
    for (const id of this.peerIds) {
      const pr = this.prs.get(id)!;
      const m: Message = { type: "heartbeat", from: this.id, to: id, term: this.term, commit: Math.min(pr.match, commit) };
      if (ctx) m.context = ctx;
      this.send(m);
    }
  }

  // ---------------------------------------------------------------- replication (follower)

  private handleAppend(m: Message): void {
    const log = this.log;
    const prevIndex = m.index ?? 0;
    if (prevIndex < log.committed) {
      this.send({ type: "appResp", from: this.id, to: m.from, term: this.term, index: log.committed });
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
      this.send({ type: "appResp", from: this.id, to: m.from, term: this.term, index: lastNew });
      return;
    }
    // Fast backtracking: point the leader at the last entry that can possibly match.
    const hint = log.findConflictByTerm(Math.min(prevIndex, log.lastIndex()), m.logTerm ?? 0);
    this.send({
      type: "appResp",
      from: this.id,
      to: m.from,
      term: this.term,
      index: prevIndex,
      reject: true,
      rejectHint: hint,
      conflictTerm: log.term(hint) ?? 0,
    });
  }

  private handleHeartbeat(m: Message): void {
    const c = Math.min(m.commit ?? 0, this.log.lastIndex());
    if (c > this.log.committed) this.log.committed = c;
    const r: Message = { type: "heartbeatResp", from: this.id, to: m.from, term: this.term };
    if (m.context) r.context = m.context;
    this.send(r);
  }

  // ---------------------------------------------------------------- snapshots

  private sendSnapshot(to: NodeId, pr: Progress): void {
    const s = this.snapshot;
    if (!s) return; // cannot happen: the log is only compacted behind a snapshot
    pr.becomeSnapshot(s.meta.index);
    this.sendChunk(to, pr, 0);
  }

  private sendChunk(to: NodeId, pr: Progress, offset: number): void {
    const s = this.snapshot!;
    const total = s.data.length;
    const end = Math.min(total, offset + this.cfg.snapshotChunkSize);
    this.send({
      type: "snap",
      from: this.id,
      to,
      term: this.term,
      snapshot: { meta: s.meta, offset, data: s.data.subarray(offset, end), total },
    });
    pr.snapStall = 0;
  }

  private checkSnapshotStalls(): void {
    const limit = Math.max(2, Math.ceil(this.electionTicks / this.heartbeatTicks));
    for (const id of this.peerIds) {
      const pr = this.prs.get(id)!;
      if (pr.state !== "snapshot" || ++pr.snapStall < limit) continue;
      // A chunk or its acknowledgement was lost: resend from what the follower confirmed.
      if (this.snapshot && this.snapshot.meta.index === pr.pendingSnapshot) this.sendChunk(id, pr, pr.snapAcked);
      else this.sendSnapshot(id, pr);
    }
  }

  private handleSnapResp(m: Message, pr: Progress): void {
    if (pr.state !== "snapshot" || m.index !== pr.pendingSnapshot) return; // stale
    pr.recentActive = true;
    if (m.reject) {
      pr.becomeProbe();
      this.needFlush = true;
      return;
    }
    const s = this.snapshot;
    if (!s || s.meta.index !== pr.pendingSnapshot) {
      this.sendSnapshot(m.from, pr);
      return;
    }
    const offset = m.offset ?? 0;
    if (offset > s.data.length) return;
    pr.snapAcked = offset;
    if (offset < s.data.length) this.sendChunk(m.from, pr, offset);
    // offset === total: the follower installs it and answers with an appResp.
  }

  private handleSnapshotChunk(m: Message): void {
    const c = m.snapshot;
    if (!c) return;
    const meta = c.meta;
    const log = this.log;
    if (meta.index <= log.committed) {
      // Stale or older than what we have: report where we are so the leader moves on.
      this.receiver.dropUpTo(log.committed);
      this.send({ type: "appResp", from: this.id, to: m.from, term: this.term, index: log.committed });
      return;
    }
    const out = this.receiver.accept(c);
    switch (out.kind) {
      case "ignore":
        return;
      case "ack":
        this.send({ type: "snapResp", from: this.id, to: m.from, term: this.term, index: meta.index, offset: out.offset });
        return;
      case "reject":
        this.send({ type: "snapResp", from: this.id, to: m.from, term: this.term, index: meta.index, reject: true });
        return;
      case "complete":
        this.restoreSnapshot(out.snapshot);
        this.send({ type: "appResp", from: this.id, to: m.from, term: this.term, index: log.lastIndex() });
    }
  }

  /** Installs a snapshot from the leader, unless the log already holds its last entry (then just commits). */
  private restoreSnapshot(s: Snapshot): void {
    const log = this.log;
    const { index, term } = s.meta;
    if (index <= log.committed) return;
    if (log.matchTerm(index, term)) {
      log.committed = index; // a matching log suffix is kept; the entries apply normally
      return;
    }
    log.restore(index, term);
    this.conf = cloneConfState(s.meta.conf);
    this.confIndex = index;
    this.confHistory = [{ index, conf: this.conf }];
    if (s.meta.addrs) for (const [k, a] of Object.entries(s.meta.addrs)) this.addrs.set(Number(k), a);
    this.updateMembership();
    this.pendingSnapshot = s;
    this.snapshot = s;
  }

  /** The application's snapshot at `index` (<= applied); compacts the in-memory log behind it. */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    const log = this.log;
    const prev = this.snapshot?.meta.index ?? 0;
    if (!Number.isSafeInteger(index) || index <= prev) {
      throw new StreamBusError("Invalid", `raft: snapshot index ${index} is not past the current snapshot (${prev})`);
    }
    if (index > log.applied) {
      throw new StreamBusError("Invalid", `raft: snapshot index ${index} is past the applied index ${log.applied}; call advance() first`);
    }
    const term = log.term(index);
    if (term === undefined) throw new StreamBusError("Invalid", `raft: index ${index} was compacted`);
    const addrs: Record<string, string> = {};
    for (const id of [...this.addrs.keys()].sort((a, b) => a - b)) addrs[String(id)] = this.addrs.get(id)!;
    const snap: Snapshot = { meta: { index, term, conf: cloneConfState(this.confAt(index)), addrs }, data };
    this.snapshot = snap;
    const compactIndex = Math.min(index - this.cfg.compactionOverhead, log.stable);
    if (compactIndex > log.snapIndex) {
      log.compact(compactIndex);
      let k = 0;
      while (k + 1 < this.confHistory.length && this.confHistory[k + 1].index <= compactIndex) k++;
      if (k > 0) this.confHistory = this.confHistory.slice(k);
    }
    return snap;
  }

  private confAt(index: number): ConfState {
    let conf = this.confHistory[0].conf;
    for (const h of this.confHistory) if (h.index <= index) conf = h.conf;
    return conf;
  }

  // ---------------------------------------------------------------- membership

  /**
   * Applies the committed configuration change in `e` (once). An invalid change is skipped the same way
   * on every node, since the outcome depends only on the log.
   */
  applyConfEntry(e: Entry, update = true): void {
    if (e.index <= this.confIndex) return;
    this.confIndex = e.index;
    let cc: ConfChange, next: ConfState;
    try {
      cc = decodeConfChange(e.data);
      next = applyConfChange(this.conf, cc);
    } catch {
      return;
    }
    this.conf = next;
    this.confHistory.push({ index: e.index, conf: next });
    for (const ch of cc.changes) {
      if (ch.type !== "removeNode" && ch.addr !== undefined) this.addrs.set(ch.nodeId, ch.addr);
    }
    if (update) this.updateMembership();
  }

  /** Brings progress tracking in line with `conf`; a leader that is no longer a voter steps down. */
  updateMembership(): void {
    const members = allMembers(this.conf);
    const next = this.log.lastIndex() + 1;
    for (const id of members) {
      if (!this.prs.has(id)) {
        const pr = new Progress(next, this.cfg.maxInflightMsgs);
        if (id === this.id) pr.match = next - 1;
        this.prs.set(id, pr);
      }
    }
    const set = new Set(members);
    for (const id of [...this.prs.keys()]) {
      if (!set.has(id)) {
        this.prs.delete(id);
        this.addrs.delete(id);
      }
    }
    this.peerIds = members.filter((id) => id !== this.id);
    this.voterIds = [...new Set([...this.conf.voters, ...this.conf.votersOutgoing])].sort((a, b) => a - b);
    this.isVoter = this.voterIds.includes(this.id);
    if (this.leadTransferee !== NONE && !this.conf.voters.includes(this.leadTransferee)) this.leadTransferee = NONE;
    if (this.role !== "leader") return;
    this.needFlush = true;
    if (!this.isVoter) {
      // Removed (or demoted) leader. Stepping down at once could strand the cluster: a voter that has not
      // yet applied the change may still need this node's vote, which it only gets with a log at least as
      // up to date. So keep replicating (this node's vote no longer counts), refuse proposals, bring the
      // most up-to-date voter level and hand over to it; give up after an election timeout (tickLeader).
      let heir = NONE, best = -1;
      for (const id of this.conf.voters) {
        const m = this.prs.get(id)?.match ?? 0;
        if (m > best) {
          best = m;
          heir = id;
        }
      }
      if (heir !== NONE && heir !== this.leadTransferee) {
        this.leadTransferee = NONE;
        this.leaderTransfer(heir, false);
      }
    }
  }

  /** Leader: proposes leaving a joint configuration once it is applied (autoLeave). */
  maybeAutoLeave(): void {
    if (this.role !== "leader" || !isJoint(this.conf) || !this.conf.autoLeave) return;
    if (this.pendingConfIndex > this.log.applied || this.log.applied < this.termStartIndex) return;
    this.pendingConfIndex = this.appendLeader("confChange", encodeConfChange({ changes: [], leaveJoint: true }));
  }

  // ---------------------------------------------------------------- reads

  /** Leader: serves a ReadIndex request from `from` (this node for a local read). */
  leaderReadIndex(from: NodeId, context: Uint8Array): void {
    if (!this.committedCurrentTerm) {
      // The commit index is only known to be current once an entry of this term committed.
      this.reads.queued.push({ from, context });
      return;
    }
    if ((this.voterIds.length === 1 && this.voterIds[0] === this.id) || this.cfg.leaseRead) {
      this.respondRead(from, this.log.committed, context);
      return;
    }
    this.reads.add(this.id, from, this.log.committed, context);
    this.needFlush = true;
  }

  private respondRead(from: NodeId, index: number, context: Uint8Array): void {
    if (from === this.id || from === NONE) this.readStates.push({ index, context });
    else this.send({ type: "readIndexResp", from: this.id, to: from, term: this.term, index, context });
  }

  // ---------------------------------------------------------------- leadership transfer

  /** Leader: starts a transfer to `target`; `local` calls throw on a bad target, forwarded ones are dropped. */
  leaderTransfer(target: NodeId, local: boolean): void {
    if (target === this.id) return;
    if (!this.conf.voters.includes(target)) {
      if (local) throw new StreamBusError("Invalid", `raft: node ${target} is not a voter and cannot take over leadership`);
      return;
    }
    if (this.leadTransferee === target) return;
    this.leadTransferee = target;
    this.electionElapsed = 0; // the transfer is abandoned after one election timeout
    const pr = this.prs.get(target)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else if (pr.state !== "snapshot") this.sendAppend(target, pr, true); // may reveal a lost append at once
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: "timeoutNow", from: this.id, to, term: this.term });
  }

  reportUnreachable(id: NodeId): void {
    const pr = this.prs.get(id);
    if (this.role === "leader" && pr && pr.state === "replicate") pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.prs.get(id);
    if (this.role !== "leader" || !pr || pr.state !== "snapshot" || ok) return;
    // Completion is signalled by the follower's appResp; only failures matter here.
    pr.becomeProbe();
    pr.probeSent = true;
  }
}
