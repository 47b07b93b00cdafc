/**
 * One simulated server: a RawNode, its simulated disk and its key-value state machine, plus the
 * bookkeeping the simulator needs (a mirror of the log it wrote, for the invariant checks).
 */
import type { Random } from "../../rng.ts";
import { RawNode } from "../../raft/raw-node.ts";
import type { Entry, NodeId, RaftConfig, Snapshot } from "../../raft/types.ts";
import { KvStateMachine } from "./kv-state-machine.ts";
import { SimDisk } from "./sim-disk.ts";

/** The terms of the log a node has written (through Ready), for log-matching and leader-completeness checks. */
export class LogMirror {
  snapIndex = 0;
  snapTerm = 0;
  /** terms[i] is the term of entry snapIndex + 1 + i. */
  terms: number[] = [];

  lastIndex(): number {
    return this.snapIndex + this.terms.length;
  }

  /** Term at index: 0 at index 0, the snapshot's at its index, undefined when unknown. */
  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex) return undefined;
    return this.terms[index - this.snapIndex - 1];
  }

  /** Whether the log holds (index, term); indexes inside the snapshot count as held. */
  has(index: number, term: number): boolean {
    if (index <= this.snapIndex) return true;
    return this.terms[index - this.snapIndex - 1] === term;
  }

  append(entries: Entry[]): void {
    if (!entries.length) return;
    const from = entries[0]!.index;
    this.terms.length = Math.max(0, Math.min(this.terms.length, from - this.snapIndex - 1));
    for (const e of entries) if (e.index > this.snapIndex) this.terms[e.index - this.snapIndex - 1] = e.term;
  }

  installSnapshot(s: Snapshot): void {
    const { index, term } = s.meta;
    const keep = this.termAt(index) === term ? this.terms.slice(index - this.snapIndex) : [];
    this.snapIndex = index;
    this.snapTerm = term;
    this.terms = keep;
  }

  reset(initial: { snapshot?: Snapshot; entries: Entry[] }): void {
    this.snapIndex = initial.snapshot?.meta.index ?? 0;
    this.snapTerm = initial.snapshot?.meta.term ?? 0;
    this.terms = initial.entries.map((e) => e.term);
  }
}

export interface PendingRead {
  context: string;
  /** Set once the ReadState arrived: serve when applied >= index. */
  index?: number;
  done: (value: { ok: true; index: number } | { ok: false; error: unknown }) => void;
}

export class SimNode {
  raw: RawNode | undefined;
  up = false;
  /** Bumped on every crash, so events for an earlier life are ignored. */
  incarnation = 0;
  readonly disk = new SimDisk();
  kv = new KvStateMachine();
  applied = 0;
  lastSnapshotIndex = 0;
  /** A Ready is being persisted: inputs wait in the inbox until it is advanced. */
  busy = false;
  inbox: (() => void)[] = [];
  missedTicks = 0;
  readonly mirror = new LogMirror();
  /** Commit index last seen in this life (commit-monotonic). */
  lastCommit = 0;
  /** Reads waiting for their ReadState or for apply, by context. */
  reads = new Map<string, PendingRead>();
  /** Messages this node sent (count test). */
  sent = 0;
  /** Highest index ever applied, across restarts (scenario tests' nCommitted). */
  maxApplied = 0;
  /** Started blank, waiting to be added by a membership change. */
  joining = false;
  /** A paused process (a long GC or VM stall): no ticks, inputs wait; work finished meanwhile waits too. */
  paused = false;
  deferred: (() => void)[] = [];

  constructor(readonly id: NodeId, public config: RaftConfig) {}

  /** Starts (or restarts) from what is durable on the disk. */
  start(random: Random): void {
    const initial = this.disk.initialState();
    this.kv = new KvStateMachine();
    if (initial.snapshot) this.kv.restore(initial.snapshot.data);
    this.applied = initial.snapshot?.meta.index ?? 0;
    this.lastSnapshotIndex = this.applied;
    this.mirror.reset(initial);
    this.raw = new RawNode({ config: this.config, initial, random });
    this.up = true;
    this.busy = false;
    this.paused = false;
    this.deferred = [];
    this.inbox = [];
    this.missedTicks = 0;
    this.lastCommit = 0;
    this.reads.clear();
  }

  /** Loses everything not synced; the node is down until `start`. */
  crash(random: Random): void {
    this.disk.crash(random);
    this.raw = undefined;
    this.up = false;
    this.busy = false;
    this.paused = false;
    this.deferred = [];
    this.inbox = [];
    this.incarnation++;
    for (const r of this.reads.values()) r.done({ ok: false, error: new Error("node crashed") });
    this.reads.clear();
  }
}
