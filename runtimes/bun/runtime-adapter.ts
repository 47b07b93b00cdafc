/** Bun: Bun.serve with Hono's upgradeWebSocket from hono/bun; the global WebSocket dials peers. */
import type { Hono } from "hono";
import { getConnInfo, upgradeWebSocket, websocket } from "hono/bun";
import { peerWebSocketEvents } from "../../src/transport/hono-peer-route.ts";
import type { HttpServer, RuntimeAdapter, ServeOptions } from "../../src/transport/runtime-adapter.ts";
import type { ClientWebSocketConstructor, WebSocketTransport } from "../../src/transport/websocket-transport.ts";

export const bunRuntime: RuntimeAdapter = {
  name: "bun",
  WebSocket: globalThis.WebSocket as unknown as ClientWebSocketConstructor,
  mountPeerRoute(app: Hono, transport: WebSocketTransport) {
    app.get(transport.path, upgradeWebSocket(peerWebSocketEvents(transport, (c) => getConnInfo(c).remote.address)));
  },
  serve(app: Hono, host: string, port: number, opts: ServeOptions = {}): Promise<HttpServer> {
    const server = Bun.serve({
      hostname: host,
      port,
      fetch: (req, srv) => app.fetch(req, srv),
      websocket: { ...websocket, maxPayloadLength: opts.maxPayloadBytes ?? 16 << 20 },
    });
    return Promise.resolve({
      port: server.port ?? port,
      close: async () => {
        await server.stop(true);
      },
    });
  },
};
