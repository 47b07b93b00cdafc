/**
 * Follower-side assembly of a snapshot streamed in chunks. Chunks must arrive in order (links deliver in
 * order; after a lost chunk, the ones behind it get an ack of what was received, and the leader sends
 * again from there); a chunk of an older snapshot than the one being assembled is ignored, a newer snapshot
 * restarts the assembly.
 */
import type { Snapshot, SnapshotChunk, SnapshotMeta } from "./types.ts";

export type ChunkOutcome =
  | { kind: "ignore" }
  | { kind: "ack"; offset: number } // ask for (or confirm up to) this byte offset
  | { kind: "reject" } // cannot hold the snapshot
  | { kind: "complete"; snapshot: Snapshot };

export class SnapshotReceiver {
  private meta: SnapshotMeta | undefined;
  private buf = new Uint8Array(0);
  private received = 0;

  /** Drops an assembly at or below `committed` (it became stale). */
  dropUpTo(committed: number): void {
    if (this.meta && this.meta.index <= committed) this.meta = undefined;
  }

  accept(c: SnapshotChunk): ChunkOutcome {
    const m = this.meta;
    if (m && m.index === c.meta.index && m.term === c.meta.term && this.buf.length === c.total) {
      if (c.offset !== this.received) return { kind: "ack", offset: this.received }; // duplicate or gap
    } else {
      if (m && c.meta.index < m.index) return { kind: "ignore" };
      if (c.offset !== 0) return { kind: "ack", offset: 0 }; // start over from the first chunk
      try {
        this.buf = new Uint8Array(c.total);
      } catch {
        this.meta = undefined;
        return { kind: "reject" };
      }
      this.meta = c.meta;
      this.received = 0;
    }
    this.buf.set(c.data, c.offset);
    this.received += c.data.length;
    if (this.received < this.buf.length) return { kind: "ack", offset: this.received };
    const snapshot: Snapshot = { meta: c.meta, data: this.buf };
    this.meta = undefined;
    this.buf = new Uint8Array(0);
    return { kind: "complete", snapshot };
  }
}
