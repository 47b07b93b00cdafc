/**
 * Counters and latency samples kept by the RaftNode driver. The admin `/metrics` route reads a
 * `RaftNodeMetrics` snapshot and renders it; nothing here depends on how it is exported.
 */

/** Latency observations in milliseconds: totals plus the most recent samples (bounded). */
export interface LatencySummary {
  count: number;
  sumMs: number;
  maxMs: number;
  /** Up to the last `LATENCY_WINDOW` samples, oldest first. */
  recentMs: number[];
}

export interface RaftNodeMetrics {
  nodeId: number;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  leaderId: number | undefined;
  isLeader: boolean;
  /** Proposals accepted by propose() on this node. */
  proposals: number;
  /** Proposals that failed (NoLeader, Timeout, Unavailable, or the FSM's error). */
  proposalsFailed: number;
  leaderChanges: number;
  /** Snapshots this node took (compactions). */
  snapshotsTaken: number;
  /** Snapshots this node installed from a leader. */
  snapshotsInstalled: number;
  readBarriers: number;
  framesSent: number;
  sendFailures: number;
  framesReceived: number;
  /** Frames dropped because they could not be decoded or were rejected by the core. */
  malformedFrames: number;
  rpcCalls: number;
  rpcServed: number;
  /** Time to persist one Ready (entries + hard state + snapshot). */
  appendLatency: LatencySummary;
  /** Time from propose() to its entry being applied on this node. */
  commitLatency: LatencySummary;
}

export const LATENCY_WINDOW = 256;

/** A bounded latency recorder. */
export class LatencyRecorder {
  private count = 0;
  private sum = 0;
  private max = 0;
  private ring: number[] = [];
  private next = 0;

  observe(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (this.ring.length < LATENCY_WINDOW) this.ring.push(ms);
    else {
      this.ring[this.next] = ms;
      this.next = (this.next + 1) % LATENCY_WINDOW;
    }
  }

  summary(): LatencySummary {
    const recentMs = this.ring.length < LATENCY_WINDOW
      ? this.ring.slice()
      : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return { count: this.count, sumMs: this.sum, maxMs: this.max, recentMs };
  }
}

/** The mutable counters behind RaftNodeMetrics. */
export class NodeCounters {
  proposals = 0;
  proposalsFailed = 0;
  leaderChanges = 0;
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
  readBarriers = 0;
  framesSent = 0;
  sendFailures = 0;
  framesReceived = 0;
  malformedFrames = 0;
  rpcCalls = 0;
  rpcServed = 0;
  readonly appendLatency = new LatencyRecorder();
  readonly commitLatency = new LatencyRecorder();
}
