/** The WebSocket peer transport (runtime-neutral part). Re-exports only. */
export { WebSocketTransport } from "./websocket-transport.ts";
export type {
  ClientWebSocket, ClientWebSocketConstructor, PeerListener, TransportStats, WebSocketTransportOptions,
} from "./transport-types.ts";
export { peerWebSocketEvents } from "./hono-peer-route.ts";
export { type HttpServer, peerListener, type RuntimeAdapter, type ServeOptions } from "./runtime-adapter.ts";
export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
export { isLoopback, parseHostPort } from "./link-protocol.ts";
