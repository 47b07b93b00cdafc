/**
 * Bun: Bun.serve serving the Hono app; the global WebSocket dials peers.
 *
 * Peer links are upgraded with Bun's own `server.upgrade` and handled by Bun's websocket callbacks directly,
 * not through hono/bun's upgradeWebSocket: that helper builds a URL, a context and a MessageEvent for every
 * frame and hands over `message.buffer` (costly on JavaScriptCore), a few percent of a follower's CPU under
 * write load. Any other WebSocket route an embedder adds still goes through Hono's helper.
 */
import type { Server, ServerWebSocket } from "bun";
import type { Hono } from "hono";
import { websocket as honoWebSocket } from "hono/bun";
import type { HttpServer, RuntimeAdapter, ServeOptions } from "../../src/transport/runtime-adapter.ts";
import type { ClientWebSocketConstructor, WebSocketTransport } from "../../src/transport/websocket-transport.ts";

/** The data of a peer link's socket: the transport that accepts it, then the link's handlers. */
interface PeerData {
  peer: WebSocketTransport;
  remote: string | undefined;
  handlers?: ReturnType<WebSocketTransport["accept"]>;
}

// Hono's handlers type their sockets' data as Hono's; ours carry PeerData on the peer route.
// deno-lint-ignore no-explicit-any
type AnySocket = ServerWebSocket<any>;
const isPeer = (ws: AnySocket): ws is ServerWebSocket<PeerData> => !!(ws.data as Partial<PeerData> | undefined)?.peer;

const websocket = {
  open(ws: AnySocket) {
    if (!isPeer(ws)) return honoWebSocket.open(ws);
    const d = ws.data;
    d.handlers = d.peer.accept({
      send: (bytes: Uint8Array) => void ws.send(bytes),
      close: (code: number, reason: string) => ws.close(code, reason),
      bufferedAmount: () => ws.getBufferedAmount(),
    }, d.remote);
  },
  message(ws: AnySocket, message: string | Buffer) {
    if (!isPeer(ws)) return honoWebSocket.message(ws, message);
    ws.data.handlers?.message(message);
  },
  close(ws: AnySocket, code: number, reason: string) {
    if (!isPeer(ws)) return honoWebSocket.close(ws, code, reason);
    ws.data.handlers?.closed(code, reason);
  },
};

export const bunRuntime: RuntimeAdapter = {
  name: "bun",
  WebSocket: globalThis.WebSocket as unknown as ClientWebSocketConstructor,
  mountPeerRoute(app: Hono, transport: WebSocketTransport) {
    app.get(transport.path, (c) => {
      const server = c.env as Server<unknown> | undefined;
      if (!server?.upgrade) throw new TypeError("the peer route needs Bun.serve's server as the app's env");
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return c.text("expected a WebSocket upgrade", 426);
      const data: PeerData = { peer: transport, remote: server.requestIP(c.req.raw)?.address };
      if (server.upgrade(c.req.raw, { data })) return new Response(null);
      return c.text("WebSocket upgrade failed", 400);
    });
  },
  serve(app: Hono, host: string, port: number, opts: ServeOptions = {}): Promise<HttpServer> {
    const server = Bun.serve({
      hostname: host,
      port,
      // Not Bun's development mode (its default unless NODE_ENV=production), which answers an error that
      // escapes the app with a page showing the error and its stack. The admin app answers its own errors
      // (Hono's onError); anything that still escapes gets the API's error shape, without internals.
      development: false,
      error: () => Response.json({ error: { code: "Internal", message: "internal error" } }, { status: 500 }),
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
