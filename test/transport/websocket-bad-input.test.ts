// Bad input on the peer WebSocket: each kind of bad frame or handshake closes that link with a reason and
// is counted; the transport keeps serving its good links.
import { afterEach, expect, test } from "bun:test";
import { webSocketTransport } from "../../runtimes/bun/websocket-transport.ts";
import { MetricsRegistry } from "../../src/metrics.ts";
import { encodeControl } from "../../src/transport/link-protocol.ts";
import { WebSocketTransport } from "../../src/transport/websocket-transport.ts";
import { freePort, waitUntil } from "../helpers/net.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
});

/** Two linked transports (1 and 2) with an optional secret; node 2's metrics registry is returned. */
async function pair(secret?: string, extra: { maxFrameBytes?: number } = {}) {
  const [p1, p2] = [await freePort(), await freePort()];
  const peers = [{ id: 1, addr: `127.0.0.1:${p1}` }, { id: 2, addr: `127.0.0.1:${p2}` }];
  const metrics = new MetricsRegistry();
  const opts = { ...(secret && { clusterSecret: secret }), ...extra };
  const a = webSocketTransport(opts);
  const b = webSocketTransport({ ...opts, metrics });
  const got: number[] = [];
  await b.start(peers[1]!, peers, (_f, x) => got.push(x[0]!));
  await a.start(peers[0]!, peers, () => {});
  cleanups.push(() => a.stop(), () => b.stop());
  await waitUntil(() => a.connectedPeers().includes(2) && b.connectedPeers().includes(1), "link 1-2");
  return { a, b, got, p2, metrics };
}

/** Opens a raw socket to node 2's endpoint, runs `act` on open, resolves with the close event. */
function raw(port: number, act: (ws: WebSocket) => void): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/raft`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => act(ws);
    ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
  });
}

async function stillWorks(a: WebSocketTransport, got: number[]) {
  const marker = 200 + got.length % 50;
  a.send(2, new Uint8Array([marker]));
  await waitUntil(() => got.includes(marker), "the good link to still deliver");
}

const hello = (from: number, to: number): Uint8Array<ArrayBuffer> => encodeControl({ t: "hello", v: 1, from, to, nonce: new Uint8Array(32) });

test("unknown frame type, text frame, data before the handshake: each closes that socket with a reason", async () => {
  const { a, b, got, p2, metrics } = await pair();
  const garbage = await raw(p2, (ws) => ws.send(new Uint8Array([0x42, 1, 2, 3])));
  expect(garbage.code).toBe(1002);
  expect(garbage.reason).toContain("unknown frame type");
  const text = await raw(p2, (ws) => ws.send("hello"));
  expect(text.code).toBe(1003);
  const early = await raw(p2, (ws) => ws.send(new Uint8Array([0x01, 9, 9])));
  expect(early.code).toBe(1008);
  expect(early.reason).toContain("before the handshake");
  const badCbor = await raw(p2, (ws) => ws.send(new Uint8Array([0x02, 0xff, 0xff, 0x00])));
  expect(badCbor.code).toBe(1002);
  const empty = await raw(p2, (ws) => ws.send(new Uint8Array(0)));
  expect(empty.code).toBe(1002);
  expect(b.stats.rejected).toMatchObject({ malformed: 3, text: 1, unauthenticated: 1 });
  const m = metrics.render();
  expect(m).toContain('streambus_transport_rejected_frames_total{reason="malformed"} 3');
  expect(m).toContain('streambus_transport_rejected_frames_total{reason="unauthenticated"} 1');
  await stillWorks(a, got);
});

test("a hello for another node id, or claiming to be the acceptor itself, is refused", async () => {
  const { a, b, got, p2 } = await pair();
  const wrong = await raw(p2, (ws) => ws.send(hello(1, 7)));
  expect(wrong.code).toBe(1008);
  expect(wrong.reason).toContain("not node 7");
  const self = await raw(p2, (ws) => ws.send(hello(2, 2)));
  expect(self.code).toBe(1008);
  expect(b.stats.rejected["wrong-node"]).toBe(1);
  await stillWorks(a, got);
});

test("an oversized frame closes the link with 1009 and the link comes back", async () => {
  const { a, b, got, p2 } = await pair(undefined, { maxFrameBytes: 1024 });
  const big = await raw(p2, (ws) => ws.send(new Uint8Array(1500).fill(1)));
  expect(big.code).toBe(1009);
  expect(b.stats.rejected.oversized).toBe(1);
  // send() refuses frames over the limit itself.
  expect(a.send(2, new Uint8Array(2000))).toBe(false);
  await stillWorks(a, got);
});

test("with a cluster secret: a peer with the wrong secret never gets a link, and forging the handshake fails", async () => {
  const { a, b, got, p2 } = await pair("right");
  const p3 = await freePort();
  const intruder = webSocketTransport({ clusterSecret: "wrong" });
  cleanups.push(() => intruder.stop());
  // It claims to be node 1 (the lower id dials): node 2's challenge proof fails its check, and it cannot prove its own.
  await intruder.start({ id: 1, addr: `127.0.0.1:${p3}` }, [{ id: 1, addr: `127.0.0.1:${p3}` }, { id: 2, addr: `127.0.0.1:${p2}` }], () => {});
  await waitUntil(() => (intruder.stats.rejected.unauthenticated ?? 0) >= 1, "the intruder to reject node 2's proof");
  expect(b.connectedPeers()).toEqual([1]);
  expect(intruder.connectedPeers()).toEqual([]);
  // A raw client that answers the challenge with a made-up mac.
  const forged = await raw(p2, (ws) => {
    ws.onmessage = () => ws.send(encodeControl({ t: "auth", mac: new Uint8Array(32).fill(7) }));
    ws.send(hello(1, 2));
  });
  expect(forged.code).toBe(1008);
  expect(forged.reason).toContain("did not prove the cluster secret");
  // No mac at all.
  const missing = await raw(p2, (ws) => {
    ws.onmessage = () => ws.send(encodeControl({ t: "auth" }));
    ws.send(hello(1, 2));
  });
  expect(missing.code).toBe(1008);
  expect(b.stats.rejected.unauthenticated).toBeGreaterThanOrEqual(2);
  await stillWorks(a, got);
});

test("without a secret, links from non-loopback addresses are refused; a silent socket times out", async () => {
  const t = new WebSocketTransport({ handshakeTimeoutMs: 50 });
  await t.start({ id: 2, addr: "127.0.0.1:1" }, [], () => {});
  cleanups.push(() => t.stop());
  const closes: [number, string][] = [];
  const sock = () => ({ send() {}, close: (code: number, reason: string) => void closes.push([code, reason]), bufferedAmount: () => 0 });
  const remote = t.accept(sock(), "10.1.2.3");
  remote.message(hello(1, 2));
  await waitUntil(() => closes.length === 1, "the non-loopback link to close");
  expect(closes[0]![0]).toBe(1008);
  expect(closes[0]![1]).toContain("need a cluster secret");
  t.accept(sock(), "::ffff:127.0.0.1"); // loopback, but says nothing
  await waitUntil(() => closes.length === 2, "the handshake timeout");
  expect(closes[1]![1]).toContain("timed out");
  expect(t.stats.rejected).toMatchObject({ unauthenticated: 1, timeout: 1 });
});

test("frames for a peer that is down wait in a bounded queue: when full, send returns false", async () => {
  const port = await freePort();
  const t = new WebSocketTransport({ maxQueueFramesDown: 3, WebSocket: WebSocket as never });
  await t.start({ id: 1, addr: "127.0.0.1:1" }, [{ id: 2, addr: `127.0.0.1:${port}` }], () => {});
  cleanups.push(() => t.stop());
  expect([1, 2, 3].map(() => t.send(2, new Uint8Array([1])))).toEqual([true, true, true]);
  expect(t.send(2, new Uint8Array([1]))).toBe(false);
  expect(t.send(99, new Uint8Array([1]))).toBe(false);
  expect(t.stats.dropped).toBe(2);
  // Nothing listens on `port`: the dialer keeps retrying with backoff.
  await waitUntil(() => t.stats.reconnects >= 2, "reconnect attempts");
});

test("keep-alive: an open link is pinged, and closed once the peer falls silent", async () => {
  const { ManualClock } = await import("../../src/testing/manual-clock.ts");
  const { decodeControl } = await import("../../src/transport/link-protocol.ts");
  const clock = new ManualClock();
  const t = new WebSocketTransport({ clock, pingIntervalMs: 100 });
  await t.start({ id: 2, addr: "127.0.0.1:1" }, [], () => {});
  cleanups.push(() => t.stop());
  const sent: Uint8Array[] = [];
  const closes: string[] = [];
  const link = t.accept({ send: (b) => void sent.push(b), close: (_c, r) => void closes.push(r), bufferedAmount: () => 0 }, "127.0.0.1");
  link.message(hello(1, 2));
  await waitUntil(() => sent.length === 1, "the challenge");
  link.message(encodeControl({ t: "auth" }));
  await waitUntil(() => t.connectedPeers().includes(1), "the link to open");
  clock.advance(100);
  expect(sent.map((b) => decodeControl(b).t)).toEqual(["challenge", "ready", "ping"]);
  link.message(encodeControl({ t: "ping" })); // the peer answers once, then goes silent
  clock.advance(250);
  expect(t.connectedPeers()).toEqual([1]);
  clock.advance(200);
  expect(t.connectedPeers()).toEqual([]);
  expect(closes[0]).toContain("no frames");
});

test("a plain HTTP request to the peer endpoint gets 426 and a reason, and the links keep working", async () => {
  const { a, p2, got } = await pair();
  const res = await fetch(`http://127.0.0.1:${p2}/raft`);
  expect(res.status).toBe(426);
  expect(await res.text()).toContain("WebSocket");
  expect(a.send(2, new Uint8Array([9]))).toBe(true);
  await waitUntil(() => got.includes(9), "a frame over the existing link");
});
