/**
 * StreamBus ports for Node. Re-exports only.
 */
// One node:fs implementation serves Bun, Deno and Node: all three issue real fsync/fdatasync (see file-storage.ts).
export { FileStorage, fileStorage, type FileStorageOptions } from "./file-storage.ts";
export { webSocketTransport } from "./websocket-transport.ts";
export { nodeRuntime } from "./runtime-adapter.ts";
export {
  type ClientWebSocketConstructor, WebSocketTransport, type WebSocketTransportOptions,
} from "../../src/transport/websocket-transport.ts";
