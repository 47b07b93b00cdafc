/**
 * Commit-paced batching on the leader. While entries it appended are not committed yet, new proposals wait
 * here, and go to the core together once that round commits (or once a full message's worth waits).
 *
 * Every replication round costs each node a message, a write and an fsync whatever its size, so under load
 * fewer, larger rounds leave more CPU for the writes themselves, and the wait is repaid by shorter queues.
 * A proposal that finds nothing in flight goes at once, so a lone client's latency is unchanged.
 */
import type { RawNode } from "./raw-node.ts";

export interface HeldProposal {
  data: Uint8Array;
  fail: (e: unknown) => void;
}

export class ProposalPacer {
  private held: HeldProposal[] = [];

  /** `cap`: how many waiting proposals start a round without waiting for the commit. */
  constructor(private readonly cap: number) {}

  /** Whether a new proposal must wait: others already wait (order is kept), or a round is in flight. */
  shouldHold(raw: RawNode): boolean {
    return this.held.length > 0 || raw.leadingUncommitted;
  }

  /** Queues `p`; returns true once a round's worth waits (the caller then runs the Ready loop). */
  hold(p: HeldProposal): boolean {
    this.held.push(p);
    return this.held.length >= this.cap;
  }

  /**
   * The proposals to hand to the core now, oldest first: all of them once nothing is in flight (or this node
   * no longer leads: the core then forwards or refuses them), or once `cap` of them wait.
   */
  take(raw: RawNode): HeldProposal[] {
    if (this.held.length === 0 || (this.held.length < this.cap && raw.leadingUncommitted)) return [];
    return this.held.splice(0);
  }

  /** Fails every waiting proposal with `e` (the node is stopping). */
  failAll(e: unknown): void {
    for (const p of this.held.splice(0)) p.fail(e);
  }
}
