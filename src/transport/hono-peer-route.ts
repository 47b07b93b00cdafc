/**
 * Glue between Hono's `upgradeWebSocket` (hono/bun, hono/deno, @hono/node-server) and the transport's
 * acceptor: each runtime adapter only supplies its upgrade helper and how to read the remote address.
 *
 * @example
 * import { upgradeWebSocket } from "hono/bun";
 * app.get("/raft", upgradeWebSocket(peerWebSocketEvents(transport, (c) => getConnInfo(c).remote.address)));
 */
import type { Context } from "hono";
import type { WSContext, WSEvents } from "hono/ws";
import type { WebSocketTransport } from "./websocket-transport.ts";

/** The per-connection event handlers for Hono's upgradeWebSocket. */
export function peerWebSocketEvents(
  transport: WebSocketTransport,
  remoteAddress: (c: Context) => string | undefined,
): (c: Context) => WSEvents {
  return (c) => {
    let remote: string | undefined;
    try {
      remote = remoteAddress(c);
    } catch {
      remote = undefined;
    }
    let handlers: ReturnType<WebSocketTransport["accept"]> | undefined;
    const early: unknown[] = [];
    return {
      onOpen(_evt, ws) {
        const raw = ws.raw as { binaryType?: string } | undefined;
        // Deno's server sockets default to Blob; ask for ArrayBuffer there. (Not on Bun: hono/bun expects
        // its "nodebuffer" default and reads `.buffer` off each message.)
        if (raw && typeof raw === "object" && raw.binaryType === "blob") {
          try {
            raw.binaryType = "arraybuffer";
          } catch { /* read-only on some runtimes */ }
        }
        handlers = transport.accept(wsSocket(ws), remote);
        for (const m of early.splice(0)) handlers.message(m);
      },
      onMessage(evt) {
        if (handlers) handlers.message(evt.data);
        else early.push(evt.data);
      },
      onClose(evt) {
        handlers?.closed((evt as CloseEvent).code, (evt as CloseEvent).reason);
      },
      onError() {
        // The close event follows.
      },
    };
  };
}

function wsSocket(ws: WSContext) {
  const raw = ws.raw as { bufferedAmount?: number; getBufferedAmount?: () => number } | undefined;
  return {
    send: (bytes: Uint8Array) => ws.send(bytes as Uint8Array<ArrayBuffer>),
    close: (code: number, reason: string) => ws.close(code, reason),
    bufferedAmount: () => {
      if (!raw) return 0;
      if (typeof raw.getBufferedAmount === "function") return raw.getBufferedAmount();
      return typeof raw.bufferedAmount === "number" ? raw.bufferedAmount : 0;
    },
  };
}
