/**
 * RaftNode: the driver around the pure Raft core. It owns the I/O the core leaves out: it ticks the core on
 * a clock, persists each Ready before releasing its messages (node-persist.ts), sends frames over the
 * transport (node-wire.ts), applies committed entries to the application's state machine, takes snapshots,
 * and tracks proposals, reads (node-reads.ts), membership changes and app RPCs until they complete. It
 * campaigns early when its leader's link drops (node-failover.ts) and keeps its cluster id (node-cluster-id.ts).
 *
 * @example
 * const node = new RaftNode(config, fsm, { storage: memoryStorage(), transport: network.transport() });
 * await node.start();
 * const { index, result } = await node.propose(new TextEncoder().encode("set x 1"));
 */
import { isStreamBusError, StreamBusError } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { type Clock, every, systemClock } from "../ports/clock.ts";
import type { Storage } from "../ports/storage.ts";
import type { Transport } from "../ports/transport.ts";
import { type Random, seededRandom } from "../rng.ts";
import { allMembers } from "./conf-change.ts";
import { electionTicks, validateConfig } from "./config.ts";
import { Applier } from "./node-apply.ts";
import { nextU32Id, U32, wrapProposal } from "./node-frames.ts";
import { NodeClusterId } from "./node-cluster-id.ts";
import { FastFailover } from "./node-failover.ts";
import { hex, ReadBarriers } from "./node-reads.ts";
import { NodeCounters, type RaftNodeMetrics } from "./node-metrics.ts";
import { PendingRequests, type ProposeResult } from "./node-requests.ts";
import { PeerBook } from "./node-peers.ts";
import { ReadyPersister } from "./node-persist.ts";
import { MessageWire } from "./node-wire.ts";
import { type RpcCallOptions, type RpcHandler, RpcMux } from "./node-rpc.ts";
import { RawNode, type RaftStatus } from "./raw-node.ts";
import { ProposalPacer } from "./proposal-pacer.ts";
import type { ConfChange, ConfState, RaftConfig, Ready, Role, StateMachine } from "./types.ts";


export type { ProposeResult } from "./node-requests.ts";

export interface RaftNodeDeps {
  storage: Storage;
  transport: Transport;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
  /**
   * Advance the election clock at start (etcd's initial-election-tick-advance), so a fresh cluster elects
   * within about one election timeout rather than up to two. Needs PreVote, which keeps an early campaign
   * from disturbing a live leader. Default false (tests keep exact timings); the node command turns it on.
   */
  advanceElectionTicks?: boolean;
}

export interface ProposeOptions {
  /** Milliseconds before the promise fails with Timeout (the entry may still commit later). Default 5000. */
  timeoutMs?: number;
  /**
   * What `data` decodes to, when the caller already holds it. When this node applies its own entry, the
   * state machine's apply() receives it and may skip decoding. It must equal what decoding `data` gives
   * (every other node applies from the bytes), and nothing may change it afterwards.
   */
  decoded?: unknown;
}

export type RaftNodeStatus = RaftStatus & {
  leaderId: number | undefined;
  running: boolean;
  /** The cluster this node belongs to (cluster-id.ts); undefined until known. */
  clusterId: string | undefined;
};

const DEFAULT_TIMEOUT_MS = 5000;
/** How long a loaded leader may hold proposals for a fuller round (RaftConfig.proposalLingerMs). */
export const DEFAULT_PROPOSAL_LINGER_MS = 3;
const STOP_WAIT_MS = 5000;
const NOT_RUNNING = () => new StreamBusError("Unavailable", "the Raft node is not running (not started yet, or stopped)");

export class RaftNode {
  readonly id: number;
  private readonly storage: Storage;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly counters = new NodeCounters();
  private readonly rpc: RpcMux;
  private readonly wire: MessageWire;
  private readonly persister: ReadyPersister;
  private raw: RawNode | undefined;
  private state: "new" | "starting" | "running" | "halted" | "stopped" = "new";
  private bindAddr: string | undefined;
  private readonly peers: PeerBook;
  private readonly applier: Applier;
  private nextRequestId = 1;
  private lastLead = 0;
  private readonly advanceTicks: boolean;
  /** The core's status, computed at most once between two inputs to the core (RawNode.status() copies a lot). */
  private statusCache: RaftStatus | undefined;
  private readonly cluster: NodeClusterId;
  private readonly reads: ReadBarriers;
  /** Lead and role as of the last Ready (a change always comes with one, as softState). */
  private coreLead = 0;
  private coreRole: Role = "follower";
  /** Applied index at the last failed FSM snapshot (retried a threshold later). */
  private snapshotFailedAt = 0;
  private stopTicker: (() => void) | undefined;
  private stopPeerDown: (() => void) | undefined;
  private readonly failover: FastFailover;
  /** True between rawNode.ready() and advance(): inputs to the core wait in the inbox meanwhile. */
  private busy = false;
  private readonly inbox: (() => void)[] = [];
  /** Proposals waiting for the leader's round in flight to commit (see ProposalPacer). */
  private readonly pacer: ProposalPacer;
  private loopRunning = false;
  private loopScheduled = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly pending: PendingRequests;
  private readonly leaderListeners = new Set<(leaderId: number | undefined) => void>();

  constructor(private readonly config: RaftConfig, private readonly fsm: StateMachine, deps: RaftNodeDeps) {
    this.id = config.nodeId;
    this.storage = deps.storage;
    this.transport = deps.transport;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? seededRandom((config.nodeId * 0x9e3779b1) ^ Math.floor(this.clock.now() * 1000));
    this.logger = deps.logger ?? silentLogger;
    this.advanceTicks = deps.advanceElectionTicks ?? false;
    this.peers = new PeerBook(this.id, this.transport, this.logger);
    this.pending = new PendingRequests(this.clock, this.counters);
    this.pacer = new ProposalPacer({
      cap: config.maxAppendEntries,
      lingerMs: config.proposalLingerMs ?? DEFAULT_PROPOSAL_LINGER_MS,
      clock: this.clock,
      wake: () => this.schedule(),
    });
    this.applier = new Applier(this.id, fsm, this.peers, this.pending, this.counters, this.logger);
    this.persister = new ReadyPersister(this.storage, this.clock, this.counters, (e) => {
      this.logger.error("raft.loop_failed", { error: e });
      this.halt(e);
    });
    this.wire = new MessageWire({
      id: this.id,
      transport: this.transport,
      counters: this.counters,
      logger: this.logger,
      exec: (fn) => this.exec(fn),
      rpc: () => this.rpc,
      running: () => this.state === "running",
    });
    this.rpc = new RpcMux(
      {
        selfId: () => this.id,
        isLeader: () => this.isLeader(),
        leaderId: () => this.leaderId(),
        send: (to, frame) => this.wire.sendFrame(to, frame),
      },
      this.clock,
      this.logger,
      this.counters,
      DEFAULT_TIMEOUT_MS,
    );
    this.cluster = new NodeClusterId(this.storage, this.logger);
    this.reads = new ReadBarriers({
      pending: this.pending,
      incarnation: () => this.applier.incarnation,
      retryMs: config.electionTimeout,
      noLeaderNow: () => this.busy && this.raw!.lead === 0,
      noLeader: () => this.noLeader(),
      exec: (fn) => this.exec(fn),
    });
    this.failover = new FastFailover({
      clock: this.clock,
      random: this.random,
      logger: this.logger,
      heartbeatInterval: config.heartbeatInterval,
      view: () => (this.state === "running" && this.raw ? { role: this.raw.role, lead: this.raw.lead } : undefined),
      forgetLeader: () => this.exec((raw) => raw.forgetLeader()),
      campaign: () => this.exec((raw) => raw.campaign()),
    });
  }

  /** The address the transport listens on, when it differs from this node's entry in config.peers. */
  setBindAddr(addr: string): void {
    this.bindAddr = addr;
  }

  /** Loads state from storage, restores the state machine, starts the transport, the ticker and the Ready loop. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new StreamBusError("Invalid", `RaftNode ${this.id} was already started; create a new one to restart`);
    validateConfig(this.config);
    this.state = "starting";
    for (const p of this.config.peers) this.peers.set(p.id, p.addr);
    const initial = await this.storage.open();
    this.checkStillStarting();
    this.persister.reset(initial.hardState.term, initial.hardState.vote);
    if (initial.snapshot) this.applier.snapshot(initial.snapshot, false);
    // The state machine is not durable: replay what was committed before the restart.
    for (const e of initial.entries) {
      if (e.index > initial.hardState.commit) break;
      this.applier.entry(e);
    }
    this.applier.incarnation = this.random.int(U32);
    this.raw = new RawNode({ config: this.config, initial, random: this.random.fork() });
    const { lead, role, conf } = this.raw.status();
    this.coreLead = lead;
    this.coreRole = role;
    const self = { id: this.id, addr: this.bindAddr ?? this.peers.get(this.id) ?? "" };
    // A joiner knows no members until the leader's log reaches it: link to every configured peer so it can
    // answer; the links follow the membership once it is learned (PeerBook.sync).
    const members = this.config.join && allMembers(conf).length === 0
      ? this.config.peers.filter((p) => p.id !== this.id)
      : this.peers.peers(conf);
    this.peers.started(members);
    await this.cluster.load(initial, this.config);
    this.checkStillStarting();
    await this.transport.start(self, members, (from, frame) => this.wire.onFrame(from, frame), {
      clusterId: this.cluster.value,
      onClusterId: (id) => this.cluster.learn(id),
    });
    this.checkStillStarting();
    this.stopPeerDown = this.transport.onPeerDown?.((id) => this.failover.linkDown(id));
    this.state = "running";
    if (this.advanceTicks && this.config.preVote && this.config.peers.length > 1) {
      // Leaves between 1 tick and one election timeout before the first (pre-)campaign.
      for (let i = 0; i < electionTicks(this.config) - 1; i++) this.runInput(() => this.raw!.tick());
    }
    this.stopTicker = every(this.clock, this.config.tickInterval, () => this.exec((raw) => raw.tick()));
    this.logger.info("raft.started", { applied: this.applier.applied, commit: initial.hardState.commit, term: initial.hardState.term });
    this.schedule();
  }

  /** Stops ticking and serving; every pending promise fails with Unavailable. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    const wasStarted = this.state !== "new";
    this.state = "stopped";
    this.stopTicker?.();
    this.stopPeerDown?.();
    this.failover.cancel();
    this.failAll(new StreamBusError("Unavailable", `RaftNode ${this.id} stopped before the operation completed`));
    if (!wasStarted) return;
    // A write stuck in storage must not hang stop() forever.
    let timer: unknown;
    const gaveUp = new Promise<boolean>((r) => (timer = this.clock.setTimeout(() => r(true), STOP_WAIT_MS)));
    if (await Promise.race([this.loopDone.then(() => false), gaveUp])) {
      this.logger.warn("raft.stop_gave_up_waiting", { waitedMs: STOP_WAIT_MS });
    }
    this.clock.clearTimeout(timer);
    await this.transport.stop().catch((e) => this.logger.warn("raft.transport_stop_failed", { error: e }));
    await this.storage.close().catch((e) => this.logger.warn("raft.storage_close_failed", { error: e }));
    this.logger.info("raft.stopped", { applied: this.applier.applied });
  }

  /**
   * Replicates `data` and resolves once it is committed and applied on this node, with the state
   * machine's result. Works on any node (followers forward to the leader).
   * Errors: NoLeader (at once), Timeout (outcome unknown), Unavailable (stopping), or apply()'s own error.
   */
  propose(data: Uint8Array, opts: ProposeOptions = {}): Promise<ProposeResult> {
    if (this.state !== "running") return Promise.reject(NOT_RUNNING());
    if (!(data instanceof Uint8Array)) return Promise.reject(new StreamBusError("Invalid", "propose() takes a Uint8Array"));
    const requestId = this.nextRequestId;
    this.nextRequestId = nextU32Id(requestId);
    const wrapped = wrapProposal({ proposer: this.id, incarnation: this.applier.incarnation, requestId }, data);
    const { promise, fail } = this.pending.proposal(requestId, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.decoded);
    // While a Ready is in flight the proposal waits in the inbox; without a leader it would only fail later.
    if (this.busy && this.raw!.lead === 0) fail(this.noLeader());
    else if (this.pacer.shouldHold(this.raw!)) {
      if (this.pacer.hold({ data: wrapped, fail }, this.raw!)) this.schedule();
    } else this.exec((raw) => this.proposeNow(raw, wrapped, fail));
    return promise;
  }

  private proposeNow(raw: RawNode, data: Uint8Array, fail: (e: unknown) => void): void {
    try {
      raw.propose(data);
    } catch (e) {
      fail(e);
    }
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves once this node has applied everything committed
   * before the call, so a local read afterwards sees every write acknowledged before it.
   */
  readBarrier(opts: ProposeOptions = {}): Promise<void> {
    if (this.state !== "running") return Promise.reject(NOT_RUNNING());
    return this.reads.barrier(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  isLeader(): boolean {
    return this.state === "running" && this.raw !== undefined && this.raw.role === "leader";
  }

  leaderId(): number | undefined {
    if (this.state !== "running" || !this.raw) return undefined;
    const lead = this.raw.lead;
    return lead === 0 ? undefined : lead;
  }

  get term(): number {
    return this.raw ? this.raw.term : 0;
  }

  /** The core's status, with `applied` as this driver has applied it. */
  status(): RaftNodeStatus {
    if (!this.raw) {
      const conf: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
      return {
        id: this.id, term: 0, vote: 0, commit: 0, applied: 0, lead: 0, role: "follower", conf, lastIndex: 0, firstIndex: 0,
        snapshotIndex: 0, leadTransferee: 0, addrs: {}, leaderId: undefined, running: false, clusterId: this.cluster.value,
      };
    }
    return {
      ...this.raw.status(), applied: this.applier.applied, leaderId: this.leaderId(), running: this.state === "running",
      clusterId: this.cluster.value,
    };
  }

  /** The cluster this node belongs to; undefined while a joining node has not heard from a member yet. */
  get clusterId(): string | undefined {
    return this.cluster.value;
  }

  /** Calls `fn` with the new leader id (undefined: none known) whenever it changes; returns an unsubscribe. */
  onLeaderChange(fn: (leaderId: number | undefined) => void): () => void {
    this.leaderListeners.add(fn);
    return () => this.leaderListeners.delete(fn);
  }

  /** Calls `fn` after each applied index (entries and snapshots); returns an unsubscribe. */
  onApplied(fn: (index: number) => void): () => void {
    return this.applier.onApplied(fn);
  }

  /** A snapshot of this node's counters and latency samples, for the admin /metrics route. */
  metrics(): RaftNodeMetrics {
    const st = this.raw?.status();
    const c = this.counters;
    return {
      nodeId: this.id, term: st?.term ?? 0, commitIndex: st?.commit ?? 0, appliedIndex: this.applier.applied,
      leaderId: this.leaderId(), isLeader: this.isLeader(),
      proposals: c.proposals, proposalsFailed: c.proposalsFailed, leaderChanges: c.leaderChanges,
      snapshotsTaken: c.snapshotsTaken, snapshotsInstalled: c.snapshotsInstalled, readBarriers: c.readBarriers,
      framesSent: c.framesSent, sendFailures: c.sendFailures, framesReceived: c.framesReceived,
      malformedFrames: c.malformedFrames, rpcCalls: c.rpcCalls, rpcServed: c.rpcServed,
      appendLatency: c.appendLatency.summary(), commitLatency: c.commitLatency.summary(),
    };
  }

  // ---- membership and leadership --------------------------------------------------------------

  /**
   * Adds a voting member reachable at `addr`; resolves once the change is applied here (at once if it
   * is already a voter). Then start the new node with `config.join` and config.peers listing the members
   * it joins, itself included: it learns the membership from the log and needs the addresses to answer
   * the leader before that.
   */
  addVoter(id: number, addr: string, opts: ProposeOptions = {}): Promise<void> {
    return this.changeConf({ changes: [{ type: "addVoter", nodeId: id, addr }] }, (c) => c.voters.includes(id) && !c.votersOutgoing.length, opts, addr);
  }

  /** Adds a non-voting member (catches up without counting toward quorum); promote it later with addVoter. */
  addLearner(id: number, addr: string, opts: ProposeOptions = {}): Promise<void> {
    return this.changeConf({ changes: [{ type: "addLearner", nodeId: id, addr }] }, (c) => c.learners.includes(id), opts, addr);
  }

  /** Removes a member (voter or learner); resolves once the change is applied here. */
  removeNode(id: number, opts: ProposeOptions = {}): Promise<void> {
    return this.changeConf(
      { changes: [{ type: "removeNode", nodeId: id }] },
      (c) => !c.voters.includes(id) && !c.learners.includes(id) && !c.votersOutgoing.includes(id),
      opts,
    );
  }

  /** Hands leadership to `to`; resolves once this node sees `to` as leader, else Timeout. */
  transferLeadership(to: number, opts: ProposeOptions = {}): Promise<void> {
    if (this.state !== "running") return Promise.reject(NOT_RUNNING());
    const timeoutMs = opts.timeoutMs ?? this.config.electionTimeout * 3;
    const message = `leadership did not move to node ${to} within ${timeoutMs} ms`;
    return this.pending.wait(() => this.raw!.status().lead === to, timeoutMs, message, (fail) =>
      this.exec((raw) => {
        try {
          raw.transferLeadership(to);
        } catch (e) {
          fail(e);
        }
      }));
  }

  // ---- app RPC --------------------------------------------------------------------------------

  /** Registers the handler of an app RPC method (served for calls from any node, and locally). */
  handle(method: string, handler: RpcHandler): () => void {
    return this.rpc.handle(method, handler);
  }

  /** Calls `method` on node `to`. Errors come back as StreamBusError (Timeout, Unavailable, or the handler's). */
  call(to: number, method: string, body: unknown, opts: RpcCallOptions = {}): Promise<unknown> {
    if (this.state !== "running") return Promise.reject(NOT_RUNNING());
    return this.rpc.call(to, method, body, opts);
  }

  /**
   * Calls `method` on the current leader (locally when this node leads). Follows one or two NotLeader
   * redirects; NoLeader when no leader is known.
   */
  async callLeader(method: string, body: unknown, opts: RpcCallOptions = {}): Promise<unknown> {
    if (this.state !== "running") throw NOT_RUNNING();
    let target = this.leaderId();
    for (let attempt = 0; ; attempt++) {
      if (target === undefined) throw this.noLeader();
      try {
        return await this.rpc.call(target, method, body, { ...opts, leaderOnly: true });
      } catch (e) {
        const hint = isStreamBusError(e, "NotLeader") ? e.leaderId : undefined;
        if (attempt >= 2 || hint === undefined || hint === target) throw e;
        target = hint;
      }
    }
  }

  // ---- the Ready loop -------------------------------------------------------------------------

  /** Runs `fn` against the core now, or after the Ready in flight is advanced. */
  private exec(fn: (raw: RawNode) => void): void {
    if (this.state !== "running" || !this.raw) return;
    if (this.busy) {
      this.inbox.push(() => fn(this.raw!));
      return;
    }
    this.runInput(() => fn(this.raw!));
    this.schedule();
  }

  private runInput(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.logger.debug("raft.input_rejected", { error: e });
    } finally {
      this.statusCache = undefined;
    }
  }

  /** The core's status (cached until the next input to the core; treat as read-only). */
  private st(): RaftStatus {
    return (this.statusCache ??= this.raw!.status());
  }

  private schedule(): void {
    if (this.loopRunning || this.loopScheduled || this.state !== "running") return;
    this.loopScheduled = true;
    queueMicrotask(() => {
      this.loopScheduled = false;
      if (this.loopRunning || this.state !== "running") return;
      this.loopRunning = true;
      this.loopDone = this.loop();
    });
  }

  private async loop(): Promise<void> {
    const raw = this.raw!;
    try {
      for (;;) {
        while (this.inbox.length > 0) this.runInput(this.inbox.shift()!);
        for (const p of this.pacer.take(raw)) this.runInput(() => this.proposeNow(raw, p.data, p.fail));
        // A change of leader or role always makes a Ready (with softState), so no check is needed before.
        if (this.state !== "running" || !raw.hasReady()) return;
        const rd = raw.ready();
        this.statusCache = undefined;
        if (rd.softState) {
          this.coreLead = rd.softState.lead;
          this.coreRole = rd.softState.role;
        }
        this.noticeLeader();
        this.busy = true;
        try {
          // A leader's appends and heartbeats go out before its own write, so the followers' fsyncs overlap
          // the leader's (etcd does the same). Safe: the core counts the leader's own copy toward a commit
          // only when it processes acknowledgements, which wait in the inbox until this Ready is durable;
          // and an entry is applied (and its write acknowledged) only in a later Ready.
          const early = this.persister.canSendEarly(rd, this.coreRole === "leader");
          if (early) this.wire.sendMessages(rd.messages);
          // Committed entries that earlier Readies made durable here apply while this Ready's write is in
          // flight, so their writers hear back without waiting for an fsync of later entries (etcd's
          // applier also runs beside its WAL write). Committed means durable on a majority, and no write
          // can replace a committed entry; the entries of this Ready still apply only after their write.
          // On a leader that is every committed entry: acknowledgements wait in the inbox until its own
          // write is durable, so its commit index never passes what it has on disk.
          if (!rd.snapshot) this.applyCommitted(rd, rd.entries[0]?.index ?? Infinity);
          await this.persister.persist(rd);
          if (this.state !== "running") return;
          if (!early) this.wire.sendMessages(rd.messages);
          if (rd.snapshot) this.applier.snapshot(rd.snapshot, true);
          this.applyCommitted(rd, Infinity);
          for (const rs of rd.readStates) this.pending.readState(hex(rs.context), rs.index);
          this.pending.releaseReads(this.applier.applied);
        } finally {
          this.busy = false;
        }
        raw.advance(rd);
        this.statusCache = undefined;
        this.afterAdvance(rd);
        await this.maybeSnapshot();
      }
    } catch (e) {
      // A failed write leaves durability unknown: continuing could break Raft's promises, so halt.
      this.logger.error("raft.loop_failed", { error: e });
      this.halt(e);
    } finally {
      this.loopRunning = false;
    }
  }

  /** Applies rd's committed entries below index `below` (the applier skips what it already applied). */
  private applyCommitted(rd: Ready, below: number): void {
    for (const e of rd.committedEntries) {
      if (e.index >= below) break;
      this.applier.entry(e);
    }
  }

  private afterAdvance(rd: Ready): void {
    // Members and addresses change only through a membership entry or a snapshot: skip the (costly)
    // status copy on every other Ready.
    if (rd.snapshot || rd.committedEntries.some((e) => e.type === "confChange")) {
      const st = this.st();
      for (const [id, addr] of Object.entries(st.addrs)) if (addr) this.peers.set(Number(id), addr);
      this.peers.sync(st.conf);
      this.coreLead = st.lead;
      this.coreRole = st.role;
    }
    this.noticeLeader();
    this.pending.checkWaiters();
  }


  /**
   * Once snapshotThreshold entries, holding at least snapshotLogRatio times the last snapshot's bytes, were
   * applied since the last snapshot, snapshot the FSM and compact.
   */
  private async maybeSnapshot(): Promise<void> {
    const a = this.applier;
    const since = Math.max(a.snapshotIndex, this.snapshotFailedAt);
    if (a.applied - since < this.config.snapshotThreshold || this.state !== "running") return;
    if (a.bytesSinceSnapshot < this.config.snapshotLogRatio * a.snapshotBytes) return;
    const index = a.applied;
    let data: Uint8Array;
    try {
      data = this.fsm.snapshot();
    } catch (e) {
      // The log just grows until the next attempt; nothing is lost by skipping a compaction.
      this.snapshotFailedAt = index;
      this.logger.error("raft.fsm_snapshot_failed", { index, error: e });
      return;
    }
    const snap = this.raw!.createSnapshot(index, data);
    this.statusCache = undefined;
    a.snapshotTaken(index, data.length);
    await this.storage.saveSnapshot(snap);
    await this.storage.compact(snap.meta.index + 1);
    this.counters.snapshotsTaken++;
    this.logger.info("raft.snapshot_taken", { index, bytes: data.length });
  }

  // ---- membership bookkeeping ----------------------------------------------------------------

  private changeConf(cc: ConfChange, done: (c: ConfState) => boolean, opts: ProposeOptions, addr?: string): Promise<void> {
    if (this.state !== "running") return Promise.reject(NOT_RUNNING());
    const ch = cc.changes[0]!;
    if (!Number.isSafeInteger(ch.nodeId) || ch.nodeId <= 0) {
      return Promise.reject(new StreamBusError("Invalid", `node id must be a positive integer, got ${ch.nodeId}`));
    }
    if (addr !== undefined && (typeof addr !== "string" || addr.length === 0)) {
      return Promise.reject(new StreamBusError("Invalid", `node ${ch.nodeId} needs an address (host:port)`));
    }
    if (addr) this.peers.set(ch.nodeId, addr);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS * 2;
    return this.pending.wait(() => done(this.raw!.status().conf), timeoutMs, `membership change ${ch.type} ${ch.nodeId} not applied within ${timeoutMs} ms`, (fail) => {
      if (this.busy && this.raw!.status().lead === 0) return fail(this.noLeader());
      this.exec((raw) => {
        try {
          raw.proposeConfChange(cc);
        } catch (e) {
          fail(e);
        }
      });
    });
  }

  private noticeLeader(): void {
    if (!this.raw) return;
    const lead = this.coreLead;
    if (lead === this.lastLead) return;
    this.lastLead = lead;
    if (lead !== 0) this.counters.leaderChanges++;
    this.logger.info("raft.leader_changed", { leader: lead, term: this.raw.term });
    for (const fn of this.leaderListeners) {
      try {
        fn(lead === 0 ? undefined : lead);
      } catch (e) {
        this.logger.warn("raft.listener_failed", { error: e });
      }
    }
    this.pending.checkWaiters();
  }

  /** stop() during start() wins: the start fails instead of bringing a stopped node back. */
  private checkStillStarting(): void {
    if ((this.state as string) !== "starting") {
      void this.transport.stop().catch(() => {});
      throw new StreamBusError("Unavailable", `RaftNode ${this.id} was stopped while starting`);
    }
  }

  private noLeader(): StreamBusError {
    return new StreamBusError("NoLeader", `node ${this.id} knows no leader right now; retry shortly`);
  }

  private failAll(err: StreamBusError): void {
    this.pacer.failAll(err);
    this.pending.failAll(err);
    this.rpc.close();
  }

  /** Stops serving after a fatal error (storage failure); stop() still closes the ports. */
  private halt(e: unknown): void {
    if (this.state !== "running") return;
    this.state = "halted";
    this.stopTicker?.();
    this.failAll(new StreamBusError("Unavailable", `RaftNode ${this.id} halted: ${(e as Error)?.message ?? e}`));
    void this.transport.stop().catch(() => {});
  }
}
