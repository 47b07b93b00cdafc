/** Options and shapes of the WebSocket peer transport. */
import type { Logger } from "../logger.ts";
import type { MetricsRegistry } from "../metrics.ts";
import type { Clock } from "../ports/clock.ts";
import type { Peer } from "../raft/types.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { RejectReason } from "./peer-link.ts";
import type { WebSocketTransport } from "./websocket-transport.ts";

/** A web-standard WebSocket client (the global one on Bun, Deno and browsers; `ws` on Node). */
export interface ClientWebSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type ClientWebSocketConstructor = new (url: string) => ClientWebSocket;

/** Listens on the node's own address when the transport is used without an admin server. */
export interface PeerListener {
  listen(self: Peer, transport: WebSocketTransport): Promise<{ close(): Promise<void> }>;
}

export interface WebSocketTransportOptions {
  /** Peers must prove this secret (HMAC-SHA256 challenge); without one, only loopback links are accepted. */
  clusterSecret?: string;
  /** Largest payload accepted or sent, bytes (default 16 MiB). */
  maxFrameBytes?: number;
  /** Per-peer queue bounds (defaults 4096 frames, 64 MiB); while a link is down, at most `maxQueueFramesDown` (256). */
  maxQueueFrames?: number;
  maxQueueBytes?: number;
  maxQueueFramesDown?: number;
  /** Socket buffer level above which frames wait in the queue instead (default 4 MiB). */
  highWaterBytes?: number;
  backoff?: BackoffOptions;
  handshakeTimeoutMs?: number;
  /** Keep-alive period of open links (default 5000 ms); a link silent for 3 periods is closed and redialed. */
  pingIntervalMs?: number;
  /** Handshakes in progress beyond which new inbound sockets are refused (default 256). */
  maxPendingLinks?: number;
  /** Path of the peer endpoint (default "/raft"). */
  path?: string;
  /** The client WebSocket class (default: globalThis.WebSocket). */
  WebSocket?: ClientWebSocketConstructor;
  /** When set, start() listens on the node's own address through it. */
  listener?: PeerListener;
  logger?: Logger;
  metrics?: MetricsRegistry;
  clock?: Clock;
  random?: () => number;
}

/** Counts of what a transport did, for tests and logs. */
export interface TransportStats {
  linksOpen: number;
  reconnects: number;
  rejected: Partial<Record<RejectReason, number>>;
  dropped: number;
}

