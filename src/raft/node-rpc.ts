/**
 * Request/response RPCs between nodes, multiplexed with Raft frames on the peer link. Used to forward
 * application writes to the leader (callLeader). Bodies are CBOR; errors travel as {code, message} and
 * are rethrown on the caller as StreamBusError.
 */
import { Decoder, Encoder } from "cbor-x";
import { StreamBusError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Clock } from "../ports/clock.ts";
import {
  fromRpcError,
  type RpcRequest,
  rpcRequestFrame,
  type RpcResponse,
  rpcResponseFrame,
  toRpcError,
} from "./node-frames.ts";
import type { NodeCounters } from "./node-metrics.ts";

/** Serves one RPC method. `from` is the calling node's id (this node's own id for local calls). */
export type RpcHandler = (body: unknown, ctx: { from: number }) => unknown | Promise<unknown>;

export interface RpcCallOptions {
  timeoutMs?: number;
}

interface PendingCall {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: unknown;
}

const cbor = new Encoder({ useRecords: false });
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** Gives a local call the same view of values a remote one gets (what CBOR keeps). */
function roundTrip(v: unknown): unknown {
  return cborDecoder.decode(cbor.encode(v ?? null));
}

export interface RpcHost {
  selfId(): number;
  isLeader(): boolean;
  leaderId(): number | undefined;
  send(to: number, frame: Uint8Array): boolean;
}

export class RpcMux {
  private readonly handlers = new Map<string, RpcHandler>();
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly host: RpcHost,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly counters: NodeCounters,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** Registers the handler of `method`, replacing any earlier one; returns a function that removes it. */
  handle(method: string, handler: RpcHandler): () => void {
    this.handlers.set(method, handler);
    return () => {
      if (this.handlers.get(method) === handler) this.handlers.delete(method);
    };
  }

  /** Calls `method` on node `to` (locally when `to` is this node). */
  call(to: number, method: string, body: unknown, opts: RpcCallOptions & { leaderOnly?: boolean } = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new StreamBusError("Unavailable", "node is stopped"));
    this.counters.rpcCalls++;
    if (to === this.host.selfId()) return this.serveLocal(method, body, opts.leaderOnly === true);
    const id = this.nextId++;
    let frame: Uint8Array;
    try {
      frame = rpcRequestFrame({ id, method, body, leaderOnly: opts.leaderOnly });
    } catch (e) {
      return Promise.reject(new StreamBusError("Invalid", `RPC body for "${method}" cannot be encoded: ${(e as Error).message}`));
    }
    return new Promise((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
      const timer = this.clock.setTimeout(() => {
        if (this.pending.delete(id)) {
          reject(new StreamBusError("Timeout", `RPC "${method}" to node ${to} got no answer within ${timeoutMs} ms`, { to }));
        }
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.host.send(to, frame)) {
        this.pending.delete(id);
        this.clock.clearTimeout(timer);
        reject(new StreamBusError("Unavailable", `node ${to} is unreachable for RPC "${method}"`, { to }));
      }
    });
  }

  /** A request frame from `from`: run the handler and send the answer back (never throws). */
  onRequest(from: number, req: RpcRequest): void {
    if (this.closed) return;
    this.counters.rpcServed++;
    const reply = (res: RpcResponse) => {
      let frame: Uint8Array;
      try {
        frame = rpcResponseFrame(res);
      } catch (e) {
        frame = rpcResponseFrame({
          id: res.id,
          ok: false,
          error: { code: "Invalid", message: `RPC "${req.method}" result cannot be encoded: ${(e as Error).message}` },
        });
      }
      if (!this.host.send(from, frame)) this.logger.debug("rpc.reply_dropped", { to: from, method: req.method });
    };
    this.run(req.method, req.body, from, req.leaderOnly === true).then(
      (body) => reply({ id: req.id, ok: true, body }),
      (e) => reply({ id: req.id, ok: false, error: toRpcError(e, req.method) }),
    );
  }

  /** A response frame: settle the matching call; unknown ids (late answers) are ignored. */
  onResponse(res: RpcResponse): void {
    const p = this.pending.get(res.id);
    if (!p) return;
    this.pending.delete(res.id);
    this.clock.clearTimeout(p.timer);
    if (res.ok) p.resolve(res.body ?? null);
    else p.reject(fromRpcError(res.error ?? { code: "Unavailable", message: "RPC failed" }));
  }

  /** Fails every call in flight and refuses new ones (node stopping). */
  close(): void {
    this.closed = true;
    const err = new StreamBusError("Unavailable", "node stopped before the RPC answered");
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      this.clock.clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private async serveLocal(method: string, body: unknown, leaderOnly: boolean): Promise<unknown> {
    try {
      return roundTrip(await this.run(method, roundTrip(body), this.host.selfId(), leaderOnly));
    } catch (e) {
      // Same error shape a remote caller would see.
      throw fromRpcError(toRpcError(e, method));
    }
  }

  private async run(method: string, body: unknown, from: number, leaderOnly: boolean): Promise<unknown> {
    if (leaderOnly && !this.host.isLeader()) {
      const lead = this.host.leaderId();
      if (lead === undefined) throw new StreamBusError("NoLeader", `node ${this.host.selfId()} knows no leader for "${method}"`);
      throw new StreamBusError("NotLeader", `node ${this.host.selfId()} is not the leader; node ${lead} is`, { leaderId: lead });
    }
    const handler = this.handlers.get(method);
    if (!handler) throw new StreamBusError("NotFound", `no RPC handler for "${method}" on node ${this.host.selfId()}`);
    return await handler(body, { from });
  }
}
