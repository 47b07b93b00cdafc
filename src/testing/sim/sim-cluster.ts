/**
 * A deterministic cluster of RawNodes in one process: simulated clock (an event queue), network and
 * disks, all driven by one seed. Every Ready is persisted to the simulated disk, and only after the
 * simulated fsync are its messages sent and its committed entries applied (the durability rule).
 * Invariants are checked after every event; a violation throws an InvariantViolation.
 *
 * @example
 * const c = new SimCluster({ seed: 7, nodes: 3 });
 * const leader = c.checkOneLeader();
 * c.one("hello", 3);
 */
import { isStreamBusError } from "../../errors.ts";
import { decodeMessage, encodeMessage } from "../../raft/codec.ts";
import { defaultConfig } from "../../raft/config.ts";
import type { ConfChange, Entry, Message, NodeId, RaftConfig, Ready } from "../../raft/types.ts";
import { type Random, seededRandom } from "../../rng.ts";
import { EventQueue } from "./event-queue.ts";
import { InvariantLedger, InvariantViolation, violation } from "./invariants.ts";
import { type KvResult } from "./kv-state-machine.ts";
import { ClientGateway, type ProposeOutcome, type ReadOutcome } from "./client-gateway.ts";
export type { ProposeOutcome, ReadOutcome } from "./client-gateway.ts";
import type { DiskWrite } from "./sim-disk.ts";
import { type NetworkOptions, reliableNetwork, SimNetwork } from "./sim-network.ts";
import { SimNode } from "./sim-node.ts";

export interface SimClusterOptions {
  seed: number;
  /** Number of initial voters (ids 1..nodes). */
  nodes: number;
  /** Overrides of the simulated Raft config (times in simulated ms). */
  config?: Partial<RaftConfig>;
  network?: NetworkOptions;
  /** fsync latency range in ms (plus a node's disk slowness). */
  minSyncDelay?: number;
  maxSyncDelay?: number;
  /** Take a snapshot once this many entries were applied since the last one (0 = never). */
  snapshotEvery?: number;
  /** Stop with an error after this many events. */
  maxEvents?: number;
  /**
   * Breaks the durability rule on purpose (messages sent before the fsync), so tests can show the
   * invariants catch it. Never set outside such tests.
   */
  unsafeSendBeforeSync?: boolean;
  /** Serves reads from the local state machine without ReadIndex (a deliberate bug, for tests of the checker). */
  unsafeLocalReads?: boolean;
  /** Route every message through the CBOR wire codec (encodeMessage / decodeMessage). */
  wireCodec?: boolean;
  /** Per-node clock rate skew: each node's tick period is tickInterval * (1 ± up to this fraction). */
  tickSkew?: number;
}

export const simConfig: Partial<RaftConfig> = {
  tickInterval: 10,
  electionTimeout: 100,
  heartbeatInterval: 20,
  maxAppendEntries: 16,
  maxInflightMsgs: 16,
  snapshotChunkSize: 256,
  compactionOverhead: 5,
};

export class SimCluster {
  readonly queue = new EventQueue();
  readonly random: Random;
  readonly net: SimNetwork;
  readonly ledger = new InvariantLedger();
  readonly nodes = new Map<NodeId, SimNode>();
  readonly clients = new ClientGateway(this);
  /** Events run so far (the "step" of a failure report). */
  events = 0;
  /** Entries applied per node (index -> data), for the scenario tests' nCommitted. */
  readonly options: Required<Omit<SimClusterOptions, "config" | "network">>;
  private baseConfig: RaftConfig;
  private diskRandom: Random;
  private disconnected = new Set<NodeId>();
  /** Per-node clock slowness: a node with factor f ticks f times less often (1: its normal rate). */
  private clockSlowness = new Map<NodeId, number>();
  /** Called for every entry a node applies (after the checks). */
  onApply?: (node: SimNode, e: Entry, result: KvResult | undefined) => void;

  constructor(opts: SimClusterOptions) {
    this.options = {
      seed: opts.seed, nodes: opts.nodes, minSyncDelay: opts.minSyncDelay ?? 0, maxSyncDelay: opts.maxSyncDelay ?? 2,
      snapshotEvery: opts.snapshotEvery ?? 0, maxEvents: opts.maxEvents ?? 5_000_000,
      unsafeSendBeforeSync: opts.unsafeSendBeforeSync ?? false, unsafeLocalReads: opts.unsafeLocalReads ?? false,
      wireCodec: opts.wireCodec ?? false, tickSkew: opts.tickSkew ?? 0,
    };
    this.random = seededRandom(opts.seed);
    this.net = new SimNetwork(this.random.fork(), opts.network ?? reliableNetwork);
    this.diskRandom = this.random.fork();
    const peers = Array.from({ length: opts.nodes }, (_, i) => ({ id: i + 1, addr: `sim-${i + 1}:0` }));
    this.baseConfig = { ...defaultConfig(), ...simConfig, ...opts.config, peers, nodeId: 0, dataDir: "" };
    for (const p of peers) this.addServer(p.id, true);
  }

  // ------------------------------------------------------------------------------------------------
  // Running

  get now(): number {
    return this.queue.now;
  }

  /** Runs events until simulated time `now + ms`. */
  runFor(ms: number): void {
    const end = this.queue.now + ms;
    while (this.queue.peekTime() <= end) this.runEvent();
    this.queue.now = end;
  }

  /** Runs until `pred()` holds (checked after each event) or `ms` pass; returns whether it held. */
  runUntil(pred: () => boolean, ms: number): boolean {
    const end = this.queue.now + ms;
    if (pred()) return true;
    while (this.queue.peekTime() <= end) {
      this.runEvent();
      if (pred()) return true;
    }
    this.queue.now = end;
    return false;
  }

  private runEvent(): void {
    if (++this.events > this.options.maxEvents) throw new Error(`event budget of ${this.options.maxEvents} exhausted`);
    this.queue.runNext();
  }

  // ------------------------------------------------------------------------------------------------
  // Servers

  /** Creates a server (started at once). `initialVoter` false makes a blank node that waits to be added. */
  addServer(id: NodeId, initialVoter: boolean): SimNode {
    const config: RaftConfig = { ...this.baseConfig, nodeId: id };
    if (!initialVoter) config.peers = []; // a blank node learns its membership from the leader
    const node = new SimNode(id, config);
    this.nodes.set(id, node);
    if (!initialVoter) node.joining = true;
    this.startNode(node);
    const phase = 1 + this.random.int(this.baseConfig.tickInterval);
    const skew = this.options.tickSkew;
    const period = Math.max(1, Math.round(this.baseConfig.tickInterval * (1 + (this.random.next() * 2 - 1) * skew)));
    const tick = () => {
      this.queue.after(Math.round(period * (this.clockSlowness.get(id) ?? 1)), tick);
      if (!node.up || node.paused) return;
      if (node.busy) node.missedTicks++;
      else this.input(node, () => node.raw!.tick());
    };
    this.queue.after(phase, tick);
    return node;
  }

  private startNode(node: SimNode): void {
    try {
      node.start(this.random.fork());
    } catch (e) {
      violation("core-error", `node ${node.id} failed to start: ${String(e)}`);
    }
    this.afterInput(node);
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    node.crash(this.diskRandom);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up) node.crash(this.diskRandom);
    this.startNode(node);
  }

  /** Cuts a node off from everyone (both directions). */
  disconnect(id: NodeId): void {
    this.net.isolate(id, this.ids());
    this.disconnected.add(id);
  }

  /** Restores a node's links to every node that is not itself disconnected. */
  connect(id: NodeId): void {
    this.disconnected.delete(id);
    this.net.rejoin(id, this.ids().filter((o) => !this.disconnected.has(o)));
  }

  /** Up and not disconnected (the lab's notion of a live server). */
  isConnected(id: NodeId): boolean {
    return this.node(id).up && !this.disconnected.has(id);
  }

  /** Freezes a node's process (no ticks, no input handled) until `resume`; its disk keeps syncing. */
  pause(id: NodeId): void {
    const node = this.node(id);
    if (node.up) node.paused = true;
  }

  resume(id: NodeId): void {
    const node = this.node(id);
    if (!node.paused) return;
    node.paused = false;
    const work = node.deferred;
    node.deferred = [];
    for (const w of work) w();
    this.afterInput(node);
  }

  setSlowDisk(id: NodeId, extraMs: number): void {
    this.node(id).disk.slowness = extraMs;
  }

  /** Makes a node's clock run `factor` times slower (1 restores it): its timeouts fire that much later. */
  setClockSlowness(id: NodeId, factor: number): void {
    if (factor === 1) this.clockSlowness.delete(id);
    else this.clockSlowness.set(id, factor);
  }

  // ------------------------------------------------------------------------------------------------
  // The Ready loop

  /** Feeds one input to a node (queued while a Ready is being persisted), then processes it. */
  input(node: SimNode, fn: () => void): void {
    if (!node.up) return;
    if (node.busy || node.paused) {
      node.inbox.push(fn);
      return;
    }
    this.callCore(node, fn);
    this.afterInput(node);
  }

  private callCore(node: SimNode, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof InvariantViolation) throw e;
      // step() may reject a malformed message with Invalid; nothing else should escape the core.
      if (isStreamBusError(e, "Invalid")) return;
      violation("core-error", `node ${node.id} threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    }
  }

  private afterInput(node: SimNode): void {
    for (;;) {
      if (!node.up || node.busy || node.paused) return;
      this.checkStatus(node);
      if (node.inbox.length) {
        const fn = node.inbox.shift()!;
        this.callCore(node, fn);
        continue;
      }
      if (node.missedTicks) {
        node.missedTicks--;
        this.callCore(node, () => node.raw!.tick());
        continue;
      }
      const raw = node.raw!;
      if (!raw.hasReady()) return;
      const rd = raw.ready();
      this.noteLeaderCommit(node);
      const writes = this.persist(node, rd);
      if (writes.length) {
        const early = this.options.unsafeSendBeforeSync;
        if (early) for (const m of rd.messages) this.send(node, m);
        node.busy = true;
        node.disk.write(writes);
        const incarnation = node.incarnation;
        const delay = this.options.minSyncDelay +
          this.random.int(this.options.maxSyncDelay - this.options.minSyncDelay + 1) + node.disk.slowness;
        this.queue.after(delay, () => {
          if (node.incarnation !== incarnation || !node.up) return;
          const problem = node.disk.sync();
          if (problem) violation("storage", `node ${node.id}: ${problem}`);
          const finish = () => {
            node.busy = false;
            this.finishReady(node, rd, !early);
            this.afterInput(node);
          };
          if (node.paused) node.deferred.push(finish);
          else finish();
        });
        return;
      }
      this.finishReady(node, rd);
    }
  }

  /** Turns a Ready into disk writes, checking log matching on what the node writes. */
  private persist(node: SimNode, rd: Ready): DiskWrite[] {
    const writes: DiskWrite[] = [];
    if (rd.snapshot) {
      writes.push({ kind: "snapshot", snapshot: rd.snapshot });
      if (rd.snapshot.meta.index < node.mirror.snapIndex) {
        violation("storage", `node ${node.id} asked to persist snapshot ${rd.snapshot.meta.index} older than ${node.mirror.snapIndex}`);
      }
      node.mirror.installSnapshot(rd.snapshot);
    }
    if (rd.entries.length) {
      // Entries at or below the snapshot are covered by it (storage drops them); check the rest.
      const fresh = rd.entries.filter((e) => e.index > node.mirror.snapIndex);
      let prevTerm = fresh.length ? node.mirror.termAt(fresh[0]!.index - 1) : 0;
      if (prevTerm === undefined) {
        violation("storage", `node ${node.id} wrote entry ${fresh[0]!.index} after its last index ${node.mirror.lastIndex()}`);
      }
      for (let i = 0; i < fresh.length; i++) {
        const e = fresh[i]!;
        if (i > 0 && e.index !== fresh[i - 1]!.index + 1) violation("storage", `node ${node.id} wrote a non-contiguous batch at ${e.index}`);
        this.ledger.observeWrite(node.id, e, prevTerm!);
        prevTerm = e.term;
      }
      node.mirror.append(fresh);
      writes.push({ kind: "entries", entries: rd.entries });
    }
    if (rd.hardState) writes.push({ kind: "hardState", hardState: rd.hardState });
    return writes;
  }

  private finishReady(node: SimNode, rd: Ready, sendMessages = true): void {
    const raw = node.raw!;
    if (sendMessages) for (const m of rd.messages) this.send(node, m);
    if (rd.snapshot) {
      if (rd.snapshot.meta.index < node.applied) {
        violation("apply-order", `node ${node.id} was handed snapshot ${rd.snapshot.meta.index} after applying ${node.applied}`);
      }
      node.kv.restore(rd.snapshot.data);
      node.applied = rd.snapshot.meta.index;
      node.lastSnapshotIndex = node.applied;
    }
    const term = raw.status().term;
    for (const e of rd.committedEntries) {
      if (e.index !== node.applied + 1) {
        violation("apply-order", `node ${node.id} applies entry ${e.index} after ${node.applied}`);
      }
      this.ledger.observeApply(node.id, e, term);
      node.applied = e.index;
      if (e.index > node.maxApplied) node.maxApplied = e.index;
      const result = e.type === "normal" && e.data.length ? node.kv.apply(e.data) : undefined;
      this.clients.onApplied(node, e, result);
      this.onApply?.(node, e, result);
    }
    for (const rs of rd.readStates) {
      const key = new TextDecoder().decode(rs.context);
      const r = node.reads.get(key);
      if (r && r.index === undefined) r.index = rs.index;
    }
    this.callCore(node, () => raw.advance(rd));
    this.serveReads(node);
    const every = this.options.snapshotEvery;
    if (every > 0 && node.applied - node.lastSnapshotIndex >= every) {
      const data = node.kv.snapshot();
      let snap;
      try {
        snap = raw.createSnapshot(node.applied, data);
      } catch (e) {
        violation("core-error", `node ${node.id} createSnapshot(${node.applied}) threw: ${String(e)}`);
      }
      const problem = node.disk.writeDurable({ kind: "snapshot", snapshot: snap });
      if (problem) violation("storage", `node ${node.id}: ${problem}`);
      node.lastSnapshotIndex = node.applied;
    }
  }

  /** Sees every message a node sends (before the network decides its fate). */
  onSend?: (m: Message) => void;

  /** Delivers a message to a node now, bypassing the network (tests replay stale messages with it). */
  deliver(m: Message): void {
    const target = this.node(m.to);
    this.input(target, () => target.raw!.step(cloneMessage(m)));
  }

  private send(node: SimNode, m: Message): void {
    node.sent++;
    this.onSend?.(m);
    if (m.to === node.id) violation("core-error", `node ${node.id} sent a ${m.type} message to itself`);
    if (this.net.isCut(m.from, m.to)) {
      // Like a transport whose link is down: send() fails and the driver tells Raft (after this Ready).
      node.inbox.push(() => {
        node.raw!.reportUnreachable(m.to);
        if (m.type === "snap") node.raw!.reportSnapshot(m.to, false);
      });
    }
    for (const delay of this.net.plan(m.from, m.to)) {
      this.queue.after(delay, () => {
        const target = this.nodes.get(m.to);
        if (!target || !target.up || !this.net.canDeliver(m.from, m.to)) return;
        this.net.delivered++;
        const wire = this.options.wireCodec ? encodeMessage(m) : undefined;
        this.input(target, () => target.raw!.step(wire ? decodeMessage(wire) : cloneMessage(m)));
      });
    }
  }

  /**
   * Records the configuration a leader used when its commit index advanced (commit is decided inside
   * ready(), before advance() may apply a membership change), so the durable-ack check counts the
   * majority that actually committed an entry.
   */
  private noteLeaderCommit(node: SimNode): void {
    const st = node.raw!.status();
    if (st.role !== "leader") return;
    const confs = this.ledger.commitConf;
    for (let i = Math.max(confs.length, 1); i <= st.commit; i++) confs[i] = st.conf;
  }

  /** Per-event status checks: election safety, leader completeness, commit monotonic. */
  private checkStatus(node: SimNode): void {
    const st = node.raw!.status();
    if (st.commit < node.lastCommit) {
      violation("commit-monotonic", `node ${node.id} commit went from ${node.lastCommit} to ${st.commit}`);
    }
    node.lastCommit = st.commit;
    if (st.role === "leader" && this.ledger.observeLeader(node.id, st.term)) {
      this.ledger.checkLeaderCompleteness(node.id, st.term, (i, t) => node.mirror.has(i, t));
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Clients

  /** Proposes a command on a node; `done` runs once it is applied there, or on a definite failure. */
  propose(id: NodeId, data: Uint8Array, done: (o: ProposeOutcome) => void): void {
    this.clients.propose(id, data, done);
  }

  /** Forgets a client's waiter (after its timeout). */
  forget(client: number, seq: number): void {
    this.clients.forget(client, seq);
  }

  /** A linearizable read on a node (ReadIndex, then wait until applied); returns the read's context. */
  read(id: NodeId, key: string, done: (o: ReadOutcome) => void): string | undefined {
    return this.clients.read(id, key, done);
  }

  /** Abandons a read (timeout). */
  forgetRead(id: NodeId, context?: string): void {
    this.clients.forgetRead(id, context);
  }

  private serveReads(node: SimNode): void {
    for (const [ctx, r] of node.reads) {
      if (r.index !== undefined && node.applied >= r.index) {
        node.reads.delete(ctx);
        r.done({ ok: true, index: r.index });
      }
    }
  }

  /**
   * Tries a membership change on a node (queued like any input). An expected refusal by the core (no
   * leader, one change already in flight, a rule broken) is ignored.
   */
  tryConfChange(id: NodeId, cc: ConfChange): void {
    const node = this.node(id);
    this.input(node, () => {
      try {
        node.raw!.proposeConfChange(cc);
      } catch (e) {
        if (!isStreamBusError(e, "NoLeader", "Unavailable", "Conflict", "Invalid", "NotLeader")) throw e;
      }
    });
  }

  /** Proposes a membership change through a node; throws the core's error synchronously when possible. */
  proposeConfChange(id: NodeId, cc: ConfChange): void {
    const node = this.node(id);
    if (node.busy) throw new Error("node busy; retry");
    node.raw!.proposeConfChange(cc);
    this.afterInput(node);
  }

  // ------------------------------------------------------------------------------------------------
  // Views for tests

  /** Up nodes that believe they lead, with their terms. */
  leaders(): { id: NodeId; term: number }[] {
    const out: { id: NodeId; term: number }[] = [];
    for (const id of this.ids()) {
      const n = this.node(id);
      if (!n.up) continue;
      const st = n.raw!.status();
      if (st.role === "leader") out.push({ id, term: st.term });
    }
    return out;
  }

  /** Total messages sent by all nodes. */
  messagesSent(): number {
    let n = 0;
    for (const node of this.nodes.values()) n += node.sent;
    return n;
  }
}

function cloneMessage(m: Message): Message {
  // The network must not share mutable arrays between sender and receiver.
  return m.entries ? { ...m, entries: m.entries.slice() } : { ...m };
}
