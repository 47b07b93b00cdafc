/**
 * The leader's view of one follower (etcd-raft `tracker/progress.go`): what it has matched, what to send
 * next, and the flow-control state.
 *
 * - probe: the leader does not know where the logs diverge; it sends one append per heartbeat round (or per
 *   response) and backs off on rejections.
 * - replicate: logs match up to `match`; appends are pipelined optimistically, bounded by the in-flight window.
 * - snapshot: the follower needs entries the leader compacted; a snapshot is being streamed in chunks.
 */

export type ProgressState = "probe" | "replicate" | "snapshot";

/** A ring buffer of the last indexes of in-flight append messages (the pipelining window). */
export class Inflights {
  private readonly buf: number[];
  private start = 0;
  count = 0;

  constructor(readonly size: number) {
    this.buf = new Array<number>(size).fill(0);
  }

  full(): boolean {
    return this.count >= this.size;
  }

  /** Records an append message whose last entry is `lastIndex` (indexes are added in increasing order). */
  add(lastIndex: number): void {
    if (this.count >= this.size) return;
    let i = this.start + this.count;
    if (i >= this.size) i -= this.size;
    this.buf[i] = lastIndex;
    this.count++;
  }

  /** Frees every in-flight message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.buf[this.start] <= index) {
      this.start++;
      if (this.start === this.size) this.start = 0;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message (a heartbeat answer proves the follower is alive; unstick a full window). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start++;
    if (this.start === this.size) this.start = 0;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export class Progress {
  match = 0;
  next = 1;
  state: ProgressState = "probe";
  /** probe: an append was sent and not yet answered; wait for a response or the next heartbeat. */
  probeSent = false;
  /** snapshot: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** snapshot: highest byte offset the follower acknowledged. */
  snapAcked = 0;
  /** snapshot: byte offset of the next chunk to send (chunks up to it are in flight or acknowledged). */
  snapSent = 0;
  /** snapshot: the last chunk went out (a snapshot of 0 bytes still sends one, empty). */
  snapAllSent = false;
  /** snapshot: offset the leader last went back to after the follower reported a gap (-1: none). */
  snapRewoundTo = -1;
  /** snapshot: heartbeat rounds without snapshot progress (a lost chunk is resent after a while). */
  snapStall = 0;
  /** Heard from within the current election timeout (CheckQuorum). */
  recentActive = true;
  /** Highest commit index this follower can derive from what was sent to it. */
  sentCommit = 0;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapAcked = 0;
    this.snapSent = 0;
    this.snapAllSent = false;
    this.snapRewoundTo = -1;
    this.snapStall = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement of `index`; returns whether `match` moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < index + 1) this.next = index + 1;
    return updated;
  }

  /**
   * A rejection of an append whose previous index was `rejected`; `matchHint` is the highest index that
   * may match (from the follower's conflict hint). Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether sending appends to this follower is paused by flow control. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      default:
        return true;
    }
  }

  /** Bookkeeping after sending an append of `count` entries ending at `lastIndex`. */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }
}
