/**
 * The driver's link side: a Ready's messages leave as frames (one per peer, several messages each), and
 * frames that arrive are checked whole before any of their messages reaches the core. A malformed frame is
 * counted and dropped, never stepped.
 */
import { StreamBusError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Transport } from "../ports/transport.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import { decodeFrame, MAX_BATCH_MESSAGES, raftBatchFrame, raftFrame } from "./node-frames.ts";
import type { NodeCounters } from "./node-metrics.ts";
import type { RpcMux } from "./node-rpc.ts";
import type { RawNode } from "./raw-node.ts";
import type { Entry, Message } from "./types.ts";

/** A batch frame stops growing past this many bytes (a single larger message still goes alone). */
const BATCH_FRAME_BYTES = 1 << 20;

export interface WireDeps {
  id: number;
  transport: Transport;
  counters: NodeCounters;
  logger: Logger;
  /** Runs `fn` against the core now, or after the Ready in flight. */
  exec(fn: (raw: RawNode) => void): void;
  /** App RPC frames go here (late: the mux is built with this wire's sendFrame). */
  rpc(): RpcMux;
  running(): boolean;
}

export class MessageWire {
  constructor(private readonly d: WireDeps) {}

  /**
   * Sends a Ready's messages, one frame per peer (in order) rather than one per message: on a busy leader
   * that is one WebSocket send per follower per Ready. Snapshots travel alone.
   */
  sendMessages(messages: Message[]): void {
    const byPeer = new Map<number, Message[]>();
    for (const m of messages) {
      if (m.to === this.d.id) {
        this.d.exec((raw) => raw.step(m));
        continue;
      }
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    const encodedEntries = new Map<Entry, Uint8Array>();
    for (const [to, list] of byPeer) {
      let batch: Message[] = [];
      let encoded: Uint8Array[] = [];
      let bytes = 0;
      const flush = () => {
        if (encoded.length === 0) return;
        const frame = encoded.length === 1 ? raftFrame(encoded[0]) : raftBatchFrame(encoded);
        if (!this.sendFrame(to, frame)) this.sendFailed(to, batch);
        batch = [];
        encoded = [];
        bytes = 0;
      };
      for (const m of list) {
        const e = encodeMessage(m, encodedEntries);
        if (m.type === "snap" || bytes + e.length > BATCH_FRAME_BYTES || encoded.length >= MAX_BATCH_MESSAGES) flush();
        batch.push(m);
        encoded.push(e);
        bytes += e.length;
        if (m.type === "snap") flush();
      }
      flush();
    }
  }

  private sendFailed(to: number, lost: Message[]): void {
    this.d.exec((raw) => raw.reportUnreachable(to));
    for (const m of lost) if (m.type === "snap") this.d.exec((raw) => raw.reportSnapshot(to, false));
  }

  sendFrame(to: number, frame: Uint8Array): boolean {
    let ok = false;
    try {
      ok = this.d.transport.send(to, frame);
    } catch (e) {
      this.d.logger.warn("raft.send_threw", { to, error: e });
    }
    if (ok) this.d.counters.framesSent++;
    else this.d.counters.sendFailures++;
    return ok;
  }

  onFrame(from: number, frame: Uint8Array): void {
    this.d.counters.framesReceived++;
    if (!this.d.running()) return;
    try {
      const f = decodeFrame(frame);
      if (f.kind === "rpcRequest") return this.d.rpc().onRequest(from, f.request);
      if (f.kind === "rpcResponse") return this.d.rpc().onResponse(f.response);
      // Every message of a batch is checked before any is stepped: a bad frame is dropped whole.
      const ms = f.kind === "raft" ? [decodeMessage(f.payload)] : f.payloads.map(decodeMessage);
      for (const m of ms) {
        if (m.from !== from || m.to !== this.d.id || m.type === "hup" || m.type === "beat") {
          throw new StreamBusError("Invalid", `raft message ${m.type} from ${m.from} to ${m.to} arrived on the link of node ${from}`);
        }
      }
      this.d.exec((raw) => {
        for (const m of ms) {
          try {
            raw.step(m);
          } catch (e) {
            this.dropFrame(from, e);
          }
        }
      });
    } catch (e) {
      this.dropFrame(from, e);
    }
  }

  private dropFrame(from: number, e: unknown): void {
    this.d.counters.malformedFrames++;
    this.d.logger.warn("raft.frame_dropped", { from, error: e });
  }
}
