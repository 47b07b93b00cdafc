/**
 * Leader-side bookkeeping of ReadIndex requests (etcd-raft `read_only.go`). A request records the commit
 * index when it arrived; it is answered once a quorum acknowledged a heartbeat sent after it, which proves
 * this node was still the leader then. Heartbeats carry the sequence number of the latest request.
 */
import type { NodeId } from "./types.ts";

export interface ReadRequest {
  seq: number;
  /** Commit index at arrival: the read may be served once applied >= index. */
  index: number;
  context: Uint8Array;
  /** Requesting node (this node for a local read). */
  from: NodeId;
  acks: Set<NodeId>;
}

/** The heartbeat context for read sequence `seq`. */
export function readContext(seq: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, seq);
  return b;
}

function seqOf(ctx: Uint8Array): number {
  if (ctx.length !== 8) return -1;
  return new DataView(ctx.buffer, ctx.byteOffset, 8).getFloat64(0);
}

export class ReadOnly {
  /** Waiting for a quorum of heartbeat acknowledgements, oldest first. */
  pending: ReadRequest[] = [];
  /** Arrived before the leader committed an entry of its term: the commit index is not yet trustworthy. */
  queued: { from: NodeId; context: Uint8Array }[] = [];
  private seq = 0;
  private seqSent = 0;

  /** Forgets every request (leadership lost; the requesters time out and retry). */
  reset(): void {
    this.pending = [];
    this.queued = [];
    this.seqSent = this.seq;
  }

  add(self: NodeId, from: NodeId, index: number, context: Uint8Array): void {
    this.pending.push({ seq: ++this.seq, index, context, from, acks: new Set([self]) });
  }

  /** The context of a heartbeat round still to send for new requests, if one is needed. */
  takeBroadcast(): Uint8Array | undefined {
    if (this.seq <= this.seqSent) return undefined;
    this.seqSent = this.seq;
    return readContext(this.seq);
  }

  /** The context to put on a regular heartbeat (retries confirmation of the latest pending request). */
  latestContext(): Uint8Array | undefined {
    return this.pending.length > 0 ? readContext(this.pending[this.pending.length - 1].seq) : undefined;
  }

  /**
   * Records that `from` acknowledged the heartbeat carrying `ctx`; `confirmed` says whether a set of
   * acknowledgements is a quorum. Returns the requests this confirms (all up to the acknowledged one).
   */
  ack(from: NodeId, ctx: Uint8Array, confirmed: (acks: Set<NodeId>) => boolean): ReadRequest[] {
    const seq = seqOf(ctx);
    const reads = this.pending;
    let i = 0;
    while (i < reads.length && reads[i].seq !== seq) i++;
    if (i === reads.length) return [];
    reads[i].acks.add(from);
    if (!confirmed(reads[i].acks)) return [];
    return reads.splice(0, i + 1);
  }
}
