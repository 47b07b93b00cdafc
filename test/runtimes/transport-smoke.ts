/**
 * The WebSocket transport's essentials without bun:test, for the Deno and Node smoke scripts: frames both
 * ways in order, a wrong cluster secret refused, garbage on the peer socket closes only that link.
 */
import type { WebSocketTransport, WebSocketTransportOptions } from "../../src/transport/websocket-transport.ts";
import { freePort, waitFor } from "../e2e/harness.ts";

export async function transportSmoke(
  make: (o?: WebSocketTransportOptions) => WebSocketTransport,
  rt: string,
  RawWebSocket?: new (url: string) => WebSocket,
): Promise<void> {
  const [pa, pb, pc] = [await freePort(), await freePort(), await freePort()];
  const a = make({ clusterSecret: "s" }), b = make({ clusterSecret: "s" }), c = make({ clusterSecret: "wrong" });
  const peers = [{ id: 1, addr: `127.0.0.1:${pa}` }, { id: 2, addr: `127.0.0.1:${pb}` }, { id: 3, addr: `127.0.0.1:${pc}` }];
  const gotA: number[] = [], gotB: number[] = [];
  try {
    await a.start(peers[0]!, peers, (_f, x) => gotA.push(x[0]!));
    await b.start(peers[1]!, peers, (_f, x) => gotB.push(x[0]!));
    await c.start(peers[2]!, peers, () => {});
    await waitFor(() => a.connectedPeers().includes(2) && b.connectedPeers().includes(1), `${rt}: link 1-2`);
    for (let i = 0; i < 50; i++) a.send(2, new Uint8Array([i]));
    for (let i = 0; i < 50; i++) b.send(1, new Uint8Array([i]));
    await waitFor(() => gotA.length === 50 && gotB.length === 50, `${rt}: 50 frames each way`);
    if (gotB.some((v, i) => v !== i) || gotA.some((v, i) => v !== i)) throw new Error(`${rt}: frames out of order`);
    // Node 3 has the wrong secret: its links are refused and counted.
    await waitFor(() => (a.stats.rejected.unauthenticated ?? 0) + (c.stats.rejected.unauthenticated ?? 0) > 0, `${rt}: wrong secret refused`);
    if (a.connectedPeers().includes(3) || c.connectedPeers().length > 0) throw new Error(`${rt}: a link with the wrong secret opened`);
    // Garbage on the peer endpoint closes that socket; the good link keeps working.
    const WS = RawWebSocket ?? (globalThis as { WebSocket?: new (u: string) => WebSocket }).WebSocket;
    if (WS) {
      const ws = new WS(`ws://127.0.0.1:${pb}/raft`);
      ws.binaryType = "arraybuffer";
      const closed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
      ws.onopen = () => ws.send(new Uint8Array([0x42, 1, 2, 3]));
      const code = await closed;
      if (code === 1000) throw new Error(`${rt}: garbage frame closed the link normally`);
      a.send(2, new Uint8Array([99]));
      await waitFor(() => gotB.includes(99), `${rt}: link 1-2 still works after garbage`);
    }
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
}
