/**
 * What each runtime (runtimes/bun, deno, node) supplies so the runtime-neutral code can serve HTTP and
 * accept peer WebSockets: a Hono server and a WebSocket client. Everything else lives in src/.
 */
import { Hono } from "hono";
import type { Peer } from "../raft/types.ts";
import { parseHostPort } from "./link-protocol.ts";
import type { ClientWebSocketConstructor, PeerListener, WebSocketTransport } from "./websocket-transport.ts";

/** A listening HTTP server. */
export interface HttpServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Largest WebSocket message the server accepts, bytes. */
  maxPayloadBytes?: number;
}

export interface RuntimeAdapter {
  readonly name: "bun" | "deno" | "node" | string;
  /** The client WebSocket class for dialing peers. */
  readonly WebSocket: ClientWebSocketConstructor;
  /** Mounts `transport`'s accept endpoint on `app` at `transport.path`. */
  mountPeerRoute(app: Hono, transport: WebSocketTransport): void;
  /** Serves `app` on host:port; rejects when the address cannot be bound. */
  serve(app: Hono, host: string, port: number, opts?: ServeOptions): Promise<HttpServer>;
}

/** A PeerListener that serves only the peer endpoint on the node's own address (library use). */
export function peerListener(runtime: RuntimeAdapter): PeerListener {
  return {
    async listen(self: Peer, transport: WebSocketTransport) {
      const app = new Hono();
      runtime.mountPeerRoute(app, transport);
      const { host, port } = parseHostPort(self.addr);
      return runtime.serve(app, host, port, { maxPayloadBytes: transport.maxFrameBytes + 1024 });
    },
  };
}
