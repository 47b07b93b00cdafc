/**
 * The driver's table of operations waiting on Raft: proposals (settled when their entry is applied),
 * read barriers (settled when their ReadState is applied) and condition waiters (membership, leadership).
 * Each has a deadline on the node's clock; stopping the node fails them all.
 */
import { StreamBusError } from "../errors.ts";
import type { Clock } from "../ports/clock.ts";
import type { NodeCounters } from "./node-metrics.ts";

export interface ProposeResult {
  index: number;
  /** What the state machine's apply() returned for this entry on this node. */
  result: unknown;
}

interface PendingProposal {
  resolve(v: ProposeResult): void;
  reject(e: unknown): void;
  startedAt: number;
  /** Clock time at which it fails with Timeout. */
  deadline: number;
  timeoutMs: number;
  /** ProposeOptions.decoded, handed to apply() with the entry. */
  decoded: unknown;
}

interface PendingRead {
  resolve(): void;
  reject(e: unknown): void;
  timer: unknown;
  retryTimer: unknown;
  /** Set once the ReadState arrived: resolve when applied reaches it. */
  index?: number;
}

interface Waiter {
  done(): boolean;
  resolve(): void;
  reject(e: unknown): void;
  timer: unknown;
}

export class PendingRequests {
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly waiters = new Set<Waiter>();
  /**
   * One timer for every proposal deadline, armed at the earliest one (a timer per proposal cost a
   * setTimeout and a clearTimeout per write on a busy leader). `sweepAt` is when it fires.
   */
  private sweepTimer: unknown;
  private sweepAt = Infinity;

  constructor(private readonly clock: Clock, private readonly counters: NodeCounters) {}

  /** Registers proposal `requestId`; returns its promise and a function that fails it. */
  proposal(requestId: number, timeoutMs: number, decoded?: unknown): { promise: Promise<ProposeResult>; fail: (e: unknown) => void } {
    const fail = (e: unknown) => {
      const p = this.proposals.get(requestId);
      if (!p) return;
      this.proposals.delete(requestId);
      if (this.proposals.size === 0) this.disarmSweep();
      this.counters.proposalsFailed++;
      p.reject(e);
    };
    const startedAt = this.clock.now();
    const deadline = startedAt + timeoutMs;
    const promise = new Promise<ProposeResult>((resolve, reject) => {
      this.proposals.set(requestId, { resolve, reject, startedAt, deadline, timeoutMs, decoded });
    });
    this.armSweep(deadline);
    this.counters.proposals++;
    return { promise, fail };
  }

  private armSweep(deadline: number): void {
    if (deadline >= this.sweepAt) return;
    this.clock.clearTimeout(this.sweepTimer);
    this.sweepAt = deadline;
    this.sweepTimer = this.clock.setTimeout(() => this.sweep(), Math.max(0, deadline - this.clock.now()));
  }

  /** Nothing left to time out: no timer keeps the process alive. */
  private disarmSweep(): void {
    if (this.sweepTimer === undefined) return;
    this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepAt = Infinity;
  }

  /** Fails every proposal past its deadline and re-arms the timer at the next one. */
  private sweep(): void {
    this.sweepTimer = undefined;
    this.sweepAt = Infinity;
    const now = this.clock.now();
    const expired: number[] = [];
    let next = Infinity;
    for (const [id, p] of this.proposals) {
      if (p.deadline <= now) expired.push(id);
      else if (p.deadline < next) next = p.deadline;
    }
    for (const id of expired) {
      const p = this.proposals.get(id)!;
      this.proposals.delete(id);
      this.counters.proposalsFailed++;
      p.reject(new StreamBusError("Timeout", `proposal not applied within ${p.timeoutMs} ms; it may still commit later`));
    }
    if (next !== Infinity) this.armSweep(next);
  }

  /** What proposal `requestId`'s data decodes to, if its proposer said (and it still waits). */
  decodedOf(requestId: number): unknown {
    return this.proposals.get(requestId)?.decoded;
  }

  /** The entry of proposal `requestId` was applied: settle it with apply()'s result or error. */
  applied(requestId: number, index: number, result: unknown, error: unknown, failed: boolean): void {
    const p = this.proposals.get(requestId);
    if (!p) return;
    this.proposals.delete(requestId);
    if (this.proposals.size === 0) this.disarmSweep();
    this.counters.commitLatency.observe(this.clock.now() - p.startedAt);
    if (!failed) p.resolve({ index, result });
    else {
      this.counters.proposalsFailed++;
      p.reject(error);
    }
  }

  /**
   * Registers a read barrier under `key`. `issue(first)` asks the core for a ReadIndex; it is asked again
   * every `retryMs` until a ReadState arrives, since the core may drop a read across a leader change.
   */
  read(key: string, timeoutMs: number, retryMs: number, issue: (first: boolean, fail: (e: unknown) => void) => void): Promise<void> {
    this.counters.readBarriers++;
    const fail = (e: unknown) => {
      const r = this.reads.get(key);
      if (!r) return;
      this.reads.delete(key);
      this.clock.clearTimeout(r.timer);
      this.clock.clearTimeout(r.retryTimer);
      r.reject(e);
    };
    const promise = new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => fail(new StreamBusError("Timeout", `read barrier not confirmed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.reads.set(key, { resolve, reject, timer, retryTimer: undefined });
    });
    const retry = () => {
      const r = this.reads.get(key);
      if (!r) return;
      r.retryTimer = this.clock.setTimeout(() => {
        const cur = this.reads.get(key);
        if (!cur || cur.index !== undefined) return;
        issue(false, fail);
        retry();
      }, retryMs);
    };
    issue(true, fail);
    retry();
    return promise;
  }

  /** A ReadState for `key` arrived: the read is served once applied >= index. */
  readState(key: string, index: number): void {
    const r = this.reads.get(key);
    if (!r || r.index !== undefined) return;
    r.index = index;
    this.clock.clearTimeout(r.retryTimer);
  }

  /** Resolves every read whose index is applied. */
  releaseReads(applied: number): void {
    for (const [key, r] of [...this.reads]) {
      if (r.index === undefined || r.index > applied) continue;
      this.reads.delete(key);
      this.clock.clearTimeout(r.timer);
      r.resolve();
    }
  }

  /**
   * A promise that resolves when `done()` holds (checked now and at every `checkWaiters()`), or fails
   * with Timeout. `begin(fail)` starts the operation; it may fail the waiter at once.
   */
  wait(done: () => boolean, timeoutMs: number, timeoutMessage: string, begin: (fail: (e: unknown) => void) => void): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { done, resolve, reject, timer: undefined };
      const fail = (e: unknown) => {
        if (!this.waiters.delete(w)) return;
        this.clock.clearTimeout(w.timer);
        reject(e);
      };
      w.timer = this.clock.setTimeout(() => fail(new StreamBusError("Timeout", timeoutMessage)), timeoutMs);
      this.waiters.add(w);
      begin(fail);
    });
  }

  /** Resolves the waiters whose condition now holds. */
  checkWaiters(): void {
    for (const w of [...this.waiters]) {
      if (!w.done()) continue;
      this.waiters.delete(w);
      this.clock.clearTimeout(w.timer);
      w.resolve();
    }
  }

  /** Fails everything pending with `err` (node stopping). */
  failAll(err: StreamBusError): void {
    this.disarmSweep();
    for (const [id, p] of [...this.proposals]) {
      this.proposals.delete(id);
      this.counters.proposalsFailed++;
      p.reject(err);
    }
    for (const [key, r] of [...this.reads]) {
      this.reads.delete(key);
      this.clock.clearTimeout(r.timer);
      this.clock.clearTimeout(r.retryTimer);
      r.reject(err);
    }
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      this.clock.clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
