/**
 * Linearizable read barriers (ReadIndex) on a RaftNode. Barriers that start before the pending one's
 * ReadIndex reaches the core share it (as etcd batches reads): its read point is taken after they started,
 * so it serves them all. Each ReadIndex carries a context unique to this node's incarnation, by which the
 * core's read state finds its waiters again (PendingRequests.read / readState).
 */
import type { StreamBusError } from "../errors.ts";
import { nextU32Id } from "./node-frames.ts";
import type { PendingRequests } from "./node-requests.ts";
import type { RawNode } from "./raw-node.ts";

export interface ReadBarrierHost {
  pending: PendingRequests;
  /** This node's incarnation (random per start), the first half of every read context. */
  incarnation(): number;
  /** How long a barrier waits before asking the core again (a lost ReadIndex). */
  retryMs: number;
  /** True when the barrier can only fail now: a Ready is in flight and no leader is known. */
  noLeaderNow(): boolean;
  noLeader(): StreamBusError;
  /** Runs `fn` against the core (at once, or after the Ready in flight). */
  exec(fn: (raw: RawNode) => void): void;
}

export class ReadBarriers {
  /** The barrier whose ReadIndex has not reached the core yet: later barriers share it. */
  private batch: { timeoutMs: number; promise: Promise<void> } | undefined;
  private nextReadId = 1;

  constructor(private readonly host: ReadBarrierHost) {}

  /** Resolves once this node applied everything committed before the call (or fails within timeoutMs). */
  barrier(timeoutMs: number): Promise<void> {
    if (this.batch?.timeoutMs === timeoutMs) return this.batch.promise;
    const batch = { timeoutMs, promise: undefined as unknown as Promise<void> };
    this.batch = batch;
    batch.promise = this.issue(timeoutMs, () => this.close(batch));
    if (this.batch === batch) {
      // Settled without reaching the core (failed fast): nothing may join it any more.
      void batch.promise.then(() => this.close(batch), () => this.close(batch));
    }
    return batch.promise;
  }

  private close(batch: { timeoutMs: number; promise: Promise<void> }): void {
    if (this.batch === batch) this.batch = undefined;
  }

  private issue(timeoutMs: number, reachedCore: () => void): Promise<void> {
    const h = this.host;
    const ctx = new Uint8Array(8);
    const dv = new DataView(ctx.buffer);
    dv.setUint32(0, h.incarnation());
    dv.setUint32(4, this.nextReadId);
    this.nextReadId = nextU32Id(this.nextReadId);
    return h.pending.read(hex(ctx), timeoutMs, h.retryMs, (first, fail) => {
      if (first && h.noLeaderNow()) {
        reachedCore();
        return fail(h.noLeader());
      }
      h.exec((raw) => {
        reachedCore();
        try {
          raw.readIndex(ctx);
        } catch (e) {
          // A retry that finds no leader just waits for the next one; only the first attempt fails fast.
          if (first) fail(e);
        }
      });
    });
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A read context as the key PendingRequests files its waiters under. */
export function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}
