/** Node: @hono/node-server with a `ws` WebSocketServer for upgrades; `ws` also dials peers (Node 20 has no global WebSocket). */
import { serve, upgradeWebSocket } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Hono } from "hono";
import { WebSocket, WebSocketServer } from "ws";
import { peerWebSocketEvents } from "../../src/transport/hono-peer-route.ts";
import type { HttpServer, RuntimeAdapter, ServeOptions } from "../../src/transport/runtime-adapter.ts";
import type { ClientWebSocketConstructor, WebSocketTransport } from "../../src/transport/websocket-transport.ts";

export const nodeRuntime: RuntimeAdapter = {
  name: "node",
  WebSocket: WebSocket as unknown as ClientWebSocketConstructor,
  mountPeerRoute(app: Hono, transport: WebSocketTransport) {
    app.get(transport.path, upgradeWebSocket(peerWebSocketEvents(transport, (c) => getConnInfo(c).remote.address)));
  },
  serve(app: Hono, host: string, port: number, opts: ServeOptions = {}): Promise<HttpServer> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayloadBytes ?? 16 << 20 });
      const server = serve({ fetch: app.fetch, hostname: host, port, websocket: { server: wss } }, (info) => {
        server.off("error", reject);
        resolve({
          port: info.port,
          close: () =>
            new Promise<void>((done) => {
              for (const ws of wss.clients) ws.terminate();
              const s = server as unknown as { closeAllConnections?: () => void; close(cb: () => void): void };
              s.close(() => done());
              s.closeAllConnections?.();
            }),
        });
      });
      server.once("error", reject);
    });
  },
};
