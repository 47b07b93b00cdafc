/** Test helpers for real sockets: free loopback ports and condition waits with deadlines. */
import { createServer } from "node:net";

/** Whether `port` can be bound on 127.0.0.1 now (0: any); resolves with the port bound, or undefined. */
function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(undefined));
    s.listen(port, "127.0.0.1", () => {
      const bound = (s.address() as { port: number }).port;
      s.close(() => resolve(bound));
    });
  });
}

/**
 * A currently free TCP port on 127.0.0.1, below Linux's ephemeral range (32768 up): a port from that range
 * can be handed to an outgoing connection (a peer dialling a node that is not listening yet) before the
 * test's server binds it, which made a start fail with EADDRINUSE now and then.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await tryBind(20_000 + Math.floor(Math.random() * 12_000));
    if (port !== undefined) return port;
  }
  const any = await tryBind(0);
  if (any === undefined) throw new Error("no free TCP port on 127.0.0.1");
  return any;
}

/** Polls `cond` until it holds or `ms` pass; throws naming `what`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // Not yet.
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
