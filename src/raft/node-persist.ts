/**
 * The driver's disk side of a Ready: what must be durable before its messages leave or its entries apply,
 * and the writes that may go without waiting. Term and vote are tracked as last persisted, since a Ready
 * that changes them promises something (a vote) that must never be forgotten.
 */
import type { Clock } from "../ports/clock.ts";
import type { Storage } from "../ports/storage.ts";
import type { NodeCounters } from "./node-metrics.ts";
import type { Ready } from "./types.ts";

export class ReadyPersister {
  /** Term and vote as last persisted (a Ready changing them sends nothing before its write). */
  private persistedTerm = 0;
  private persistedVote = 0;

  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly counters: NodeCounters,
    /** A write that was not awaited failed: the node must halt. */
    private readonly onDetachedFailure: (e: unknown) => void,
  ) {}

  /** Starts from the hard state the storage opened with. */
  reset(term: number, vote: number): void {
    this.persistedTerm = term;
    this.persistedVote = vote;
  }

  async persist(rd: Ready): Promise<void> {
    if (!rd.snapshot && rd.entries.length === 0 && !rd.hardState) return;
    const t0 = this.clock.now();
    if (rd.snapshot) await this.storage.saveSnapshot(rd.snapshot);
    const hs = rd.hardState;
    const commitOnly = hs !== undefined && hs.term === this.persistedTerm && hs.vote === this.persistedVote;
    if (commitOnly && rd.entries.length === 0 && !rd.snapshot) {
      // Nothing in this Ready needs to be on disk before its messages leave or its entries apply: every
      // committed entry was made durable by an earlier Ready, and a commit index lost in a crash is
      // learned again from the leader (etcd does not even fsync it). Write it without waiting; storage
      // keeps call order, and a failure fails the next write and halts the node there.
      this.storage.setHardState(hs).catch(this.onDetachedFailure);
      return;
    }
    if (rd.entries.length > 0 && commitOnly) {
      // Only the commit index moved: issue both writes at once so storage can make them one write and one
      // fsync. Storages apply calls in order and fail every later call after a failed one (ports/storage.ts),
      // so the commit can never be durable without the entries it covers.
      await Promise.all([this.storage.append(rd.entries), this.storage.setHardState(hs)]);
    } else {
      if (rd.entries.length > 0) await this.storage.append(rd.entries);
      if (hs) await this.storage.setHardState(hs);
    }
    if (hs) {
      this.persistedTerm = hs.term;
      this.persistedVote = hs.vote;
    }
    this.counters.appendLatency.observe(this.clock.now() - t0);
  }

  /**
   * Whether `rd`'s messages may leave before it is persisted: in a Ready that changes neither term nor vote
   * and carries no snapshot, any messages when it has no new entries, else only a leader's appends and
   * heartbeats. Everything else (votes, acknowledgements of new entries, snapshots) promises something
   * about this node's disk and waits for the write.
   */
  canSendEarly(rd: Ready, leading: boolean): boolean {
    if (rd.snapshot || rd.messages.length === 0) return false;
    const hs = rd.hardState;
    if (hs && (hs.term !== this.persistedTerm || hs.vote !== this.persistedVote)) return false;
    // No new entries: the messages can only vouch for what earlier Readies made durable.
    if (rd.entries.length === 0) return true;
    if (!leading) return false;
    for (const m of rd.messages) if (m.type !== "app" && m.type !== "heartbeat") return false;
    return true;
  }
}
