/** Deno: Deno.serve with Hono's upgradeWebSocket from hono/deno; the global WebSocket dials peers. */
import type { Hono } from "hono";
import { getConnInfo, upgradeWebSocket } from "hono/deno";
import { peerWebSocketEvents } from "../../src/transport/hono-peer-route.ts";
import type { HttpServer, RuntimeAdapter } from "../../src/transport/runtime-adapter.ts";
import type { ClientWebSocketConstructor, WebSocketTransport } from "../../src/transport/websocket-transport.ts";

export const denoRuntime: RuntimeAdapter = {
  name: "deno",
  WebSocket: globalThis.WebSocket as unknown as ClientWebSocketConstructor,
  mountPeerRoute(app: Hono, transport: WebSocketTransport) {
    app.get(transport.path, upgradeWebSocket(peerWebSocketEvents(transport, (c) => getConnInfo(c).remote.address)));
  },
  serve(app: Hono, host: string, port: number): Promise<HttpServer> {
    return new Promise((resolve, reject) => {
      try {
        const server = Deno.serve({
          hostname: host,
          port,
          onListen: (addr) => {
            resolve({
              port: (addr as Deno.NetAddr).port,
              close: async () => {
                // Upgraded sockets are closed by the transport first; don't wait forever on stragglers.
                await Promise.race([server.shutdown(), new Promise((r) => setTimeout(r, 1000))]);
              },
            });
          },
          onError: () => new Response(JSON.stringify({ error: { code: "Unavailable", message: "internal error" } }), { status: 500 }),
        }, (req, info) => app.fetch(req, info));
      } catch (e) {
        reject(e);
      }
    });
  },
};
