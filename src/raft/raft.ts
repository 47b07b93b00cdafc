/**
 * The Raft protocol state machine (etcd-raft `raft.go`): elections with PreVote and CheckQuorum, log
 * replication with flow control, snapshots in chunks, ReadIndex, leadership transfer and membership.
 * Pure and deterministic: no I/O, no clock, randomness only from the injected Random. `RawNode` wraps it
 * with the Ready/advance protocol; use that, not this class.
 *
 * This file holds the state, roles, ticks, elections, message dispatch and proposals. The other parts are
 * functions of a Raft in sibling files, as etcd-raft keeps them in one package: raft-replication.ts,
 * raft-snapshots.ts, raft-membership.ts and raft-reads.ts (ReadIndex and leadership transfer). Members
 * those files use are therefore not private; nothing outside src/raft sees this class.
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
import { cloneConfState, confStateOf } from "./conf-change.ts";
import { Progress } from "./progress.ts";
import { jointCommitIndex, jointVoteResult } from "./quorum.ts";
import { RaftLog } from "./raft-log.ts";
import { applyConfEntry, checkConfChange, hasUnappliedConfChange, updateMembership } from "./raft-membership.ts";
import { leaderReadIndex, leaderTransfer } from "./raft-reads.ts";
import { bcastHeartbeat, handleAppend, handleAppResp, handleHeartbeat, handleHeartbeatResp } from "./raft-replication.ts";
import { checkSnapshotStalls, handleSnapResp, handleSnapshotChunk } from "./raft-snapshots.ts";
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
  confHistory: { index: number; conf: ConfState }[] = [];
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
  readonly receiver = new SnapshotReceiver();
  readonly reads = new ReadOnly();

  readonly matchOf = (id: NodeId): number => this.prs.get(id)?.match ?? 0;
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
    if (!snap && ents.length === 0 && commit === 0 && cfg.peers.length > 0 && !cfg.join) {
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
      if (e.type === "confChange") applyConfEntry(this, e, false);
    }
    // A log written without a bootstrap entry (and no snapshot): the configured peers are the voters.
    if (this.conf.voters.length === 0 && this.conf.learners.length === 0 && cfg.peers.length > 0 && !cfg.join) {
      this.conf = confStateOf(cfg.peers.map((p) => p.id));
      this.confHistory = [{ index: base, conf: this.conf }];
    }
    updateMembership(this);
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
      bcastHeartbeat(this, undefined);
      checkSnapshotStalls(this);
    }
  }

  // ---------------------------------------------------------------- elections

  /** Starts an election (a pre-election first when PreVote is on, unless it comes from a transfer). */
  hup(transfer: boolean): void {
    if (this.role === "leader" || !this.isVoter || hasUnappliedConfChange(this)) return;
    if (this.cfg.preVote && !transfer) this.campaign("preVote", false);
    else this.campaign("vote", transfer);
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

  send(m: Message): void {
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
        bcastHeartbeat(this, undefined);
        return;
      case "prop":
        if (m.entries) this.acceptForwarded(m.entries);
        return;
      case "readIndex":
        leaderReadIndex(this, m.from, m.context ?? EMPTY);
        return;
      case "transferLeader":
        if (m.index !== undefined) leaderTransfer(this, m.index, false);
        return;
    }
    const pr = this.prs.get(m.from);
    if (!pr || m.from === this.id) return;
    switch (m.type) {
      case "appResp":
        handleAppResp(this, m, pr);
        return;
      case "heartbeatResp":
        handleHeartbeatResp(this, m, pr);
        return;
      case "snapResp":
        handleSnapResp(this, m, pr);
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
        handleAppend(this, m);
        return;
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        handleHeartbeat(this, m);
        return;
      case "snap":
        this.electionElapsed = 0;
        this.lead = m.from;
        handleSnapshotChunk(this, m);
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

  private acceptForwarded(entries: readonly Entry[]): void {
    for (const e of entries) {
      try {
        this.checkProposal(e.data.length);
        if (e.type === "confChange") {
          const data = checkConfChange(this, decodeConfChange(e.data));
          this.pendingConfIndex = this.appendLeader("confChange", data);
        } else {
          this.appendLeader("normal", e.data);
        }
      } catch {
        // A forwarded proposal that is refused is dropped; its proposer times out and retries.
      }
    }
  }

}
