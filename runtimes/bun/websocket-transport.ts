/** `webSocketTransport()` for Bun: the WebSocket peer transport, listening on the node's own address. */
import { peerListener } from "../../src/transport/runtime-adapter.ts";
import { WebSocketTransport, type WebSocketTransportOptions } from "../../src/transport/websocket-transport.ts";
import { bunRuntime } from "./runtime-adapter.ts";

/**
 * The peer transport of CONTRACT.md §1. Listens on the bind address by itself (pass `listener: undefined`
 * and mount it with `bunRuntime.mountPeerRoute` to share a server instead, as the node command does).
 *
 * @example
 * const node = new RaftNode(config, fsm, { storage: fileStorage(dir), transport: webSocketTransport({ clusterSecret }) });
 */
export function webSocketTransport(opts: WebSocketTransportOptions = {}): WebSocketTransport {
  return new WebSocketTransport({ WebSocket: bunRuntime.WebSocket, listener: peerListener(bunRuntime), ...opts });
}
