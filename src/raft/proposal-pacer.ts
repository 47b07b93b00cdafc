/**
 * Commit-paced batching on the leader. While entries it appended are not committed yet, new proposals wait
 * here, and go to the core together once that round commits (or once a full message's worth waits).
 *
 * Every replication round costs each node a message, a write and an fsync whatever its size, so under load
 * fewer, larger rounds leave more CPU for the writes themselves, and the wait is repaid by shorter queues.
 *
 * Linger (Kafka's linger.ms, for rounds): when a round commits and fewer proposals wait than went in it,
 * the leader is under load but the next round would be smaller. They wait up to `lingerMs` (on the
 * injected clock) for company, and go as soon as a round's worth waits. A proposal that finds nothing in
 * flight after a round of one (a lone client) goes at once, so its latency is unchanged; after a burst,
 * the first lone proposal waits at most `lingerMs` once.
 */
import type { Clock } from "../ports/clock.ts";
import type { RawNode } from "./raw-node.ts";

export interface HeldProposal {
  data: Uint8Array;
  fail: (e: unknown) => void;
}

export interface PacerOptions {
  /** How many waiting proposals start a round without waiting for the commit (a full message). */
  cap: number;
  /** Longest linger in milliseconds; 0 turns lingering off. */
  lingerMs: number;
  clock: Pick<Clock, "setTimeout">;
  /** Runs the driver's Ready loop (called when a linger ends). */
  wake: () => void;
}

export class ProposalPacer {
  private held: HeldProposal[] = [];
  /** How many proposals the last released round held. */
  private lastRound = 0;
  /** The current linger, if one runs; its timer sets `over` (a timer of an earlier linger is ignored). */
  private linger: { over: boolean } | undefined;

  constructor(private readonly o: PacerOptions) {}

  /**
   * Whether a new proposal must wait: others already wait (order is kept), a round is in flight, or the
   * last round was a batch (the leader is under load, so the proposal may linger).
   */
  shouldHold(raw: RawNode): boolean {
    return this.held.length > 0 || raw.roundInFlight() || (this.o.lingerMs > 0 && this.lastRound > 1 && raw.role === "leader");
  }

  /** Queues `p`; returns true when the held proposals should go now (the caller then runs the Ready loop). */
  hold(p: HeldProposal, raw: RawNode): boolean {
    this.held.push(p);
    return this.due(raw);
  }

  /** The proposals to hand to the core now, oldest first (all of them), or none yet. */
  take(raw: RawNode): HeldProposal[] {
    if (!this.due(raw)) return [];
    this.lastRound = this.held.length;
    this.linger = undefined;
    return this.held.splice(0);
  }

  /** Fails every waiting proposal with `e` (the node is stopping). */
  failAll(e: unknown): void {
    this.linger = undefined;
    for (const p of this.held.splice(0)) p.fail(e);
  }

  /**
   * Whether the held proposals should go now: a full message waits, this node no longer leads (the core
   * then forwards or refuses them), or no round is in flight and either as many wait as went in the last
   * round or the linger is over.
   * Starts the linger (and its wake-up) when they should wait for company.
   */
  private due(raw: RawNode): boolean {
    const n = this.held.length;
    if (n === 0) return false;
    if (n >= this.o.cap || raw.role !== "leader") return true;
    if (raw.roundInFlight()) return false;
    if (this.o.lingerMs <= 0 || n >= this.lastRound) return true;
    if (!this.linger) {
      const linger: { over: boolean } = (this.linger = { over: false });
      this.o.clock.setTimeout(() => {
        linger.over = true;
        this.o.wake();
      }, this.o.lingerMs);
    }
    return this.linger.over;
  }
}
