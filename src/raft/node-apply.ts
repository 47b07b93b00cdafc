/**
 * Applies committed entries and snapshots to the application's state machine for the RaftNode driver,
 * unwrapping proposal envelopes (the FSM sees only the payload) and settling the proposer's promise with
 * apply()'s result.
 */
import type { Logger } from "../logger.ts";
import { unwrapProposal } from "./node-frames.ts";
import type { NodeCounters } from "./node-metrics.ts";
import type { PeerBook } from "./node-peers.ts";
import type { PendingRequests } from "./node-requests.ts";
import type { Entry, Snapshot, StateMachine } from "./types.ts";

export class Applier {
  /** Highest index applied to the state machine (by an entry or a snapshot). */
  applied = 0;
  /** Index of the last snapshot taken or installed. */
  snapshotIndex = 0;
  /** Size of that snapshot's data, bytes. */
  snapshotBytes = 0;
  /** Bytes of entry data applied since that snapshot. */
  bytesSinceSnapshot = 0;
  /** Proposals tagged with this node id and incarnation are this node's own. */
  incarnation = 0;
  private readonly listeners = new Set<(index: number) => void>();

  constructor(
    private readonly selfId: number,
    private readonly fsm: StateMachine,
    private readonly peers: PeerBook,
    private readonly pending: PendingRequests,
    private readonly counters: NodeCounters,
    private readonly logger: Logger,
  ) {}

  /** Calls `fn` after each applied index; returns an unsubscribe. */
  onApplied(fn: (index: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Applies one committed entry; entries at or below `applied` (replays, snapshot-covered) are skipped. */
  entry(e: Entry): void {
    if (e.index <= this.applied) return;
    this.bytesSinceSnapshot += e.data.length;
    if (e.type === "confChange") {
      this.peers.learnFromConfChange(e);
      return this.advanceTo(e.index);
    }
    if (e.data.length === 0) return this.advanceTo(e.index); // a new leader's no-op
    const { tag, payload } = unwrapProposal(e.data);
    const mine = tag !== undefined && tag.proposer === this.selfId && tag.incarnation === this.incarnation;
    let result: unknown;
    let error: unknown;
    let failed = false;
    try {
      result = this.fsm.apply(payload, e.index, mine, mine ? this.pending.decodedOf(tag!.requestId) : undefined);
    } catch (err) {
      // Deterministic on every node, so the log moves on; only the proposer hears about it.
      error = err;
      failed = true;
      this.logger.warn("raft.apply_failed", { index: e.index, error: err });
    }
    this.applied = e.index;
    if (mine) {
      this.pending.applied(tag!.requestId, e.index, result, error, failed);
    }
    this.notify();
  }

  /** Replaces the state machine's state with a snapshot newer than what is applied. */
  snapshot(snap: Snapshot, fromLeader: boolean): void {
    if (snap.meta.index <= this.applied) return;
    for (const [id, addr] of Object.entries(snap.meta.addrs ?? {})) this.peers.set(Number(id), addr);
    this.fsm.restore(snap.data);
    this.snapshotTaken(snap.meta.index, snap.data.length);
    if (fromLeader) {
      this.counters.snapshotsInstalled++;
      this.logger.info("raft.snapshot_installed", { index: snap.meta.index, term: snap.meta.term });
    }
    this.advanceTo(snap.meta.index);
  }

  /** Records the snapshot at `index` (taken here or installed) as the new base for the next one. */
  snapshotTaken(index: number, bytes: number): void {
    this.snapshotIndex = index;
    this.snapshotBytes = bytes;
    this.bytesSinceSnapshot = 0;
  }

  private advanceTo(index: number): void {
    this.applied = index;
    this.notify();
  }

  private notify(): void {
    for (const fn of this.listeners) {
      try {
        fn(this.applied);
      } catch (e) {
        this.logger.warn("raft.listener_failed", { error: e });
      }
    }
  }
}
