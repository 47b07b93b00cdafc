/**
 * RawNode: the application's handle on the pure Raft core (etcd-raft `rawnode.go`). Feed it ticks and
 * messages, take a Ready batch, process it, acknowledge it with advance().
 *
 * Durability rule: everything a message in a Ready depends on (the entries and hard state of that same
 * Ready, or of earlier ones) is released together with it, and the application must persist
 * Ready.snapshot, Ready.entries and Ready.hardState before sending Ready.messages. So no message ever
 * leaves before the state it depends on is durable (a vote before the vote is stored, an append
 * acknowledgement before the entries are stored). Only one Ready is outstanding at a time: hasReady() is
 * false and ready() throws until advance() is called.
 *
 * @example
 * const node = new RawNode({ config, initial: await storage.open(), random: seededRandom(1) });
 * node.tick();
 * if (node.hasReady()) {
 *   const rd = node.ready();
 *   // persist rd.snapshot, rd.entries, rd.hardState; send rd.messages; apply rd.committedEntries
 *   node.advance(rd);
 * }
 */
import { StreamBusError } from "../errors.ts";
import type { Random } from "../rng.ts";
import { encodeConfChange, validateConfChange } from "./codec.ts";
import { cloneConfState } from "./conf-change.ts";
import type { ProgressState } from "./progress.ts";
import { Raft } from "./raft.ts";
import { applyConfEntry, checkConfChange, maybeAutoLeave } from "./raft-membership.ts";
import { leaderReadIndex, leaderTransfer } from "./raft-reads.ts";
import { flush, maybeCommit, reportUnreachable } from "./raft-replication.ts";
import { createSnapshot, reportSnapshot } from "./raft-snapshots.ts";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type InitialState,
  type Message,
  type NodeId,
  NONE,
  type RaftConfig,
  type Ready,
  type Role,
  type Snapshot,
} from "./types.ts";

export interface RawNodeOptions {
  config: RaftConfig;
  initial: InitialState;
  random: Random;
}

/** A follower as the leader sees it (only in a leader's status). */
export interface FollowerStatus {
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
}

export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  /** Leader id, 0 when unknown. */
  lead: NodeId;
  role: Role;
  conf: ConfState;
  lastIndex: number;
  /** First index held in memory (entries before it are covered by the snapshot). */
  firstIndex: number;
  /** Index of the latest snapshot, 0 if none. */
  snapshotIndex: number;
  /** Target of a leadership transfer in progress, 0 if none. */
  leadTransferee: NodeId;
  /** Known peer addresses (from the config, snapshots and applied membership changes). */
  addrs: Record<string, string>;
  /** Leader only: replication progress per member. */
  progress?: Record<string, FollowerStatus>;
}

const MESSAGE_TYPES: ReadonlySet<string> = new Set([
  "hup", "beat", "prop", "app", "appResp", "vote", "voteResp", "preVote", "preVoteResp", "snap", "snapResp",
  "heartbeat", "heartbeatResp", "transferLeader", "timeoutNow", "readIndex", "readIndexResp",
]);

/** Local messages and forwarded requests carry no term; every other message has one. */
const TERMLESS: ReadonlySet<string> = new Set(["hup", "beat", "prop", "readIndex", "transferLeader"]);

function isUint(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

export class RawNode {
  readonly id: NodeId;
  private readonly raft: Raft;
  private outstanding: Ready | undefined;
  private prevLead: NodeId;
  private prevRole: Role;
  private prevTerm: number;
  private prevVote: NodeId;
  private prevCommit: number;

  /** The current leader (0: none known); as status().lead without status()'s copies (hot path). */
  get lead(): NodeId {
    return this.raft.lead;
  }

  /** This node's current role; as status().role, without the copies. */
  get role(): Role {
    return this.raft.role;
  }

  /** The current term; as status().term, without the copies. */
  get term(): number {
    return this.raft.term;
  }

  /**
   * Commits what the acknowledgements stepped in so far cover, then says whether this node leads and still
   * holds entries that are not committed (a replication round in flight). The leader otherwise commits
   * lazily, at the next ready(); committing here lets the driver see a round commit before it picks the
   * next round's proposals, so one Ready carries both. A method, not a getter, because it changes state.
   */
  roundInFlight(): boolean {
    const r = this.raft;
    if (r.role !== "leader") return false;
    if (r.needFlush) maybeCommit(r);
    return r.log.lastIndex() > r.log.committed;
  }

  /** Throws StreamBusError "Invalid" for a bad config and "Corrupt" for an inconsistent initial state. */
  constructor(opts: RawNodeOptions) {
    this.raft = new Raft(opts.config, opts.initial, opts.random);
    this.id = this.raft.id;
    const r = this.raft;
    const hs = opts.initial.hardState;
    this.prevLead = r.lead;
    this.prevRole = r.role;
    // Compared with what storage holds, so a bootstrapped hard state is handed out for persisting.
    this.prevTerm = hs.term;
    this.prevVote = hs.vote;
    this.prevCommit = hs.commit;
  }

  /** Advances logical time by one tick (config.tickInterval ms of driver time). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Feeds a message from a peer. Stale messages are ignored; a malformed one (or one addressed to another
   * node) throws StreamBusError "Invalid". Wire input should come through decodeMessage, which checks
   * the full shape; this only checks what the core relies on.
   */
  step(m: Message): void {
    if (typeof m !== "object" || m === null || !MESSAGE_TYPES.has(m.type) || !isUint(m.from) || !isUint(m.to) || !isUint(m.term)) {
      throw new StreamBusError("Invalid", "raft: malformed message (type, from, to and term are required)");
    }
    if (m.to !== this.id && m.to !== NONE) {
      throw new StreamBusError("Invalid", `raft: message for node ${m.to} delivered to node ${this.id}`);
    }
    if (m.term === 0 && !TERMLESS.has(m.type)) throw new StreamBusError("Invalid", `raft: ${m.type} message without a term`);
    if (m.entries !== undefined && !Array.isArray(m.entries)) throw new StreamBusError("Invalid", "raft: message entries must be an array");
    if (m.type === "snap" && m.snapshot === undefined) throw new StreamBusError("Invalid", "raft: snap message without a snapshot chunk");
    this.raft.step(m);
  }

  private noLeader(): never {
    throw new StreamBusError("NoLeader", `raft: node ${this.id} knows no leader (role ${this.raft.role}, term ${this.raft.term}); retry shortly`);
  }

  /**
   * Proposes `data` for the log. The leader appends it; a follower forwards it to the leader (the
   * outcome is then visible only when the entry commits). No known leader: StreamBusError "NoLeader";
   * leadership transfer in progress or too much uncommitted data: "Unavailable".
   */
  propose(data: Uint8Array): void {
    const r = this.raft;
    if (!(data instanceof Uint8Array)) throw new StreamBusError("Invalid", "raft: proposal data must be a Uint8Array");
    if (r.role === "leader") {
      r.checkProposal(data.length);
      r.appendLeader("normal", data);
      return;
    }
    this.forward("normal", data);
  }

  private forward(type: Entry["type"], data: Uint8Array): void {
    const r = this.raft;
    if (r.lead === NONE) this.noLeader();
    const e: Entry = { term: 0, index: 0, type, data };
    const last = r.msgs.length > 0 ? r.msgs[r.msgs.length - 1] : undefined;
    // Consecutive proposals to the leader travel in one message.
    if (last && last.type === "prop" && last.to === r.lead && last.from === this.id) last.entries!.push(e);
    else r.msgs.push({ type: "prop", from: this.id, to: r.lead, term: 0, entries: [e] });
  }

  /**
   * Proposes a membership change (one in flight: else StreamBusError "Conflict"; a change that breaks a
   * rule: "Invalid"; the same leader rules as propose). It takes effect on each node when its committed
   * entry is acknowledged with advance().
   */
  proposeConfChange(cc: ConfChange): void {
    const r = this.raft;
    const clean = validateConfChange(cc);
    if (r.role === "leader") {
      r.checkProposal(0);
      const data = checkConfChange(r, clean);
      r.pendingConfIndex = r.appendLeader("confChange", data);
      return;
    }
    if (r.lead === NONE) this.noLeader();
    const log = r.log;
    for (let i = Math.max(log.applied, log.snapIndex) + 1; i <= log.lastIndex(); i++) {
      if (log.entry(i).type === "confChange") {
        throw new StreamBusError("Conflict", `raft: a membership change (index ${i}) is still in flight; one at a time`);
      }
    }
    this.forward("confChange", encodeConfChange(clean));
  }

  /**
   * Requests a linearizable read point; the answer arrives as a ReadState carrying `context` in a later
   * Ready (serve the read once applied >= its index). No known leader: StreamBusError "NoLeader".
   */
  readIndex(context: Uint8Array): void {
    const r = this.raft;
    if (r.role === "leader") leaderReadIndex(r, this.id, context);
    else if (r.lead === NONE) this.noLeader();
    else r.msgs.push({ type: "readIndex", from: this.id, to: r.lead, term: 0, context });
  }

  /**
   * Hands leadership to voter `to`: the leader brings it up to date, then tells it to campaign at once.
   * Proposals are refused meanwhile; the attempt is abandoned after an election timeout.
   */
  transferLeadership(to: NodeId): void {
    const r = this.raft;
    if (r.role === "leader") leaderTransfer(r, to, true);
    else if (r.lead === NONE) this.noLeader();
    else r.msgs.push({ type: "transferLeader", from: this.id, to: r.lead, term: 0, index: to });
  }

  /** Starts an election now (through PreVote when enabled). */
  campaign(): void {
    this.raft.hup(false);
  }

  /**
   * A follower forgets its leader (etcd-raft `ForgetLeader`), e.g. when the transport saw the link to it
   * drop. Only the lead is cleared: the node then grants (pre)votes, since its "heard from a live leader"
   * lease no longer holds, and a later campaign() can win quickly. Safe with PreVote: nodes still hearing
   * from a live leader refuse, and the next heartbeat restores the lead. No-op unless a follower, and with
   * leaseRead (as in etcd-raft): a leader serving lease reads counts on no election within its lease.
   */
  forgetLeader(): void {
    if (this.raft.role === "follower" && !this.raft.cfg.leaseRead) this.raft.lead = NONE;
  }

  /** The transport could not deliver to `id`: the leader stops pipelining to it and probes. */
  reportUnreachable(id: NodeId): void {
    reportUnreachable(this.raft, id);
  }

  /** Outcome of sending a snapshot to `id`. Only failures matter: the follower acknowledges success itself. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    reportSnapshot(this.raft, id, ok);
  }

  /** Whether ready() has work; false while a Ready is outstanding (not yet advanced). */
  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    return r.needFlush || r.msgs.length > 0 || r.readStates.length > 0 || r.pendingSnapshot !== undefined ||
      r.log.hasUnstable() || r.log.hasNextCommitted() || r.lead !== this.prevLead || r.role !== this.prevRole ||
      r.term !== this.prevTerm || r.vote !== this.prevVote || r.log.committed !== this.prevCommit;
  }

  /**
   * The next batch of work. Process in order: persist snapshot, entries and hardState durably; send
   * messages; apply snapshot and committedEntries; serve readStates; call advance(rd).
   */
  ready(): Ready {
    if (this.outstanding) throw new StreamBusError("Invalid", "raft: the previous Ready was not advanced; call advance(rd) first");
    const r = this.raft;
    const log = r.log;
    flush(r);
    const rd: Ready = { entries: log.unstableEntries(), messages: r.msgs, committedEntries: [], readStates: r.readStates };
    r.msgs = [];
    r.readStates = [];
    if (r.pendingSnapshot) {
      rd.snapshot = r.pendingSnapshot;
      r.pendingSnapshot = undefined;
      if (log.applying < rd.snapshot.meta.index) log.applying = rd.snapshot.meta.index;
    }
    rd.committedEntries = log.nextCommitted();
    const nc = rd.committedEntries.length;
    if (nc > 0) {
      log.applying = rd.committedEntries[nc - 1].index;
      if (r.role === "leader" && r.cfg.maxUncommittedSize > 0) {
        for (let i = 0; i < nc; i++) r.uncommittedSize -= rd.committedEntries[i].data.length;
        if (r.uncommittedSize < 0) r.uncommittedSize = 0;
      }
    }
    log.persisting = log.lastIndex();
    if (r.lead !== this.prevLead || r.role !== this.prevRole) {
      rd.softState = { lead: r.lead, role: r.role };
      this.prevLead = r.lead;
      this.prevRole = r.role;
    }
    if (r.term !== this.prevTerm || r.vote !== this.prevVote || log.committed !== this.prevCommit) {
      rd.hardState = { term: r.term, vote: r.vote, commit: log.committed };
      this.prevTerm = r.term;
      this.prevVote = r.vote;
      this.prevCommit = log.committed;
    }
    this.outstanding = rd;
    return rd;
  }

  /**
   * Acknowledges that `rd` was processed: its entries and hard state are durable and its committed
   * entries applied. Configuration changes among rd.committedEntries take effect here.
   */
  advance(rd: Ready): void {
    const out = this.outstanding;
    if (!out || out !== rd) throw new StreamBusError("Invalid", "raft: advance() must be given the Ready returned by the last ready()");
    this.outstanding = undefined;
    const r = this.raft;
    const log = r.log;
    log.stable = log.persisting;
    if (rd.snapshot && log.applied < rd.snapshot.meta.index) log.applied = rd.snapshot.meta.index;
    const ents = rd.committedEntries;
    const n = ents.length;
    if (n > 0) {
      log.applied = ents[n - 1].index;
      for (let i = 0; i < n; i++) if (ents[i].type === "confChange") applyConfEntry(r, ents[i]);
    }
    maybeAutoLeave(r);
  }

  /**
   * After the application applied up to `index` (and advance()d), it hands over its state machine
   * snapshot; the core keeps it for lagging followers and compacts its in-memory log, keeping
   * config.compactionOverhead entries. Persist the result with storage.saveSnapshot + storage.compact.
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot {
    return createSnapshot(this.raft, index, data);
  }

  /** A snapshot of the node's state for monitoring and the driver. */
  status(): RaftStatus {
    const r = this.raft;
    const addrs: Record<string, string> = {};
    for (const id of [...r.addrs.keys()].sort((a, b) => a - b)) addrs[String(id)] = r.addrs.get(id)!;
    const s: RaftStatus = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lead: r.lead,
      role: r.role,
      conf: cloneConfState(r.conf),
      lastIndex: r.log.lastIndex(),
      firstIndex: r.log.firstIndex(),
      snapshotIndex: r.snapshot?.meta.index ?? 0,
      leadTransferee: r.leadTransferee,
      addrs,
    };
    if (r.role === "leader") {
      s.progress = {};
      for (const id of [...r.prs.keys()].sort((a, b) => a - b)) {
        const pr = r.prs.get(id)!;
        s.progress[String(id)] = { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive };
      }
    }
    return s;
  }
}
