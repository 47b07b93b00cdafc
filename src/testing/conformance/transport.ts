import { afterEach, describe, expect, test } from "bun:test";
import type { ClusterIdentity, Transport } from "../../ports/transport.ts";
import type { NodeId, Peer } from "../../raft/types.ts";

/** One side of a link under test: an unstarted transport and the address it should listen on. */
export interface TransportEndpoint {
  transport: Transport;
  peer: Peer;
}

/** Two fresh, unstarted transports that can reach each other, and a cleanup for whatever they hold. */
export interface TransportPair {
  a: TransportEndpoint;
  b: TransportEndpoint;
  close?(): Promise<void>;
}

export interface TransportConformanceOptions {
  /** Size of the "large frame" test, bytes (default 1 MiB). Set to the transport's frame limit or below. */
  largeFrameBytes?: number;
  /** Real-time budget for a frame to arrive (default 5000 ms). */
  deliveryTimeoutMs?: number;
}

interface Received {
  from: NodeId;
  frame: Uint8Array;
}

/**
 * The behaviour every Transport implementation must show, as a bun:test suite. Call it from a test file
 * with a factory for fresh transport pairs.
 *
 * @example
 * runTransportConformance("memory", () => { const net = new MemoryNetwork(); return { a: {...}, b: {...} }; });
 */
export function runTransportConformance(
  name: string,
  makePair: () => Promise<TransportPair> | TransportPair,
  options: TransportConformanceOptions = {},
): void {
  const largeFrameBytes = options.largeFrameBytes ?? 1 << 20;
  const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 5000;
  let cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    const list = cleanups;
    cleanups = [];
    for (const fn of list.reverse()) await fn().catch(() => {});
  });

  /** Starts both ends (each knowing the other unless told otherwise) and collects what they receive. */
  async function setup(opts: { aKnowsB?: boolean; clusterA?: ClusterIdentity; clusterB?: ClusterIdentity } = {}) {
    const pair = await makePair();
    const gotA: Received[] = [];
    const gotB: Received[] = [];
    const { a, b } = pair;
    cleanups.push(async () => {
      await a.transport.stop().catch(() => {});
      await b.transport.stop().catch(() => {});
      await pair.close?.();
    });
    await b.transport.start(b.peer, [a.peer, b.peer], (from, frame) => gotB.push({ from, frame }), opts.clusterB);
    await a.transport.start(a.peer, opts.aKnowsB === false ? [a.peer] : [a.peer, b.peer], (from, frame) =>
      gotA.push({ from, frame }), opts.clusterA);
    return { a, b, gotA, gotB };
  }

  async function waitFor(cond: () => boolean, what: string): Promise<void> {
    const deadline = performance.now() + deliveryTimeoutMs;
    while (!cond()) {
      if (performance.now() > deadline) throw new Error(`${name}: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Sends probe frames until one arrives, so the link is up before ordered traffic (real links connect lazily). */
  async function linkUp(from: Transport, to: NodeId, got: Received[]): Promise<void> {
    const probe = new Uint8Array([0xfe, 0xed]);
    const deadline = performance.now() + deliveryTimeoutMs;
    while (!got.some((r) => isProbe(r.frame))) {
      if (performance.now() > deadline) throw new Error(`${name}: link to ${to} never came up`);
      from.send(to, probe);
      await new Promise((r) => setTimeout(r, 5));
    }
    got.length = 0;
    // Probes still in flight would land among the test's frames; let them drain.
    await new Promise((r) => setTimeout(r, 20));
    for (let i = got.length - 1; i >= 0; i--) if (isProbe(got[i]!.frame)) got.splice(i, 1);
  }

  describe(`transport conformance: ${name}`, () => {
    test("frames arrive intact, in order, tagged with the sender's id", async () => {
      const { a, b, gotB } = await setup();
      await linkUp(a.transport, b.peer.id, gotB);
      const n = 200;
      for (let i = 0; i < n; i++) {
        const frame = new Uint8Array([i & 0xff, (i >> 8) & 0xff, 7, 7]);
        expect(a.transport.send(b.peer.id, frame)).toBe(true);
      }
      await waitFor(() => gotB.length >= n, `${n} frames`);
      expect(gotB.length).toBe(n);
      gotB.forEach((r, i) => {
        expect(r.from).toBe(a.peer.id);
        expect(Array.from(r.frame)).toEqual([i & 0xff, (i >> 8) & 0xff, 7, 7]);
      });
    });

    test("nodes of two different clusters never exchange a frame", async () => {
      const { a, b, gotA, gotB } = await setup({ clusterA: { clusterId: "cluster-a" }, clusterB: { clusterId: "cluster-b" } });
      // A refusal has no event to wait for: keep trying both ways for a while, and nothing may arrive.
      const until = performance.now() + Math.min(500, deliveryTimeoutMs);
      while (performance.now() < until) {
        a.transport.send(b.peer.id, new Uint8Array([1]));
        b.transport.send(a.peer.id, new Uint8Array([2]));
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(gotA).toEqual([]);
      expect(gotB).toEqual([]);
    });

    test("nodes of the same cluster link; a node without a cluster id learns its peer's", async () => {
      const learnedA: string[] = [];
      const learnedB: string[] = [];
      const { a, b, gotA, gotB } = await setup({
        clusterA: { clusterId: "cluster-a", onClusterId: (id) => learnedA.push(id) },
        clusterB: { onClusterId: (id) => learnedB.push(id) },
      });
      await linkUp(a.transport, b.peer.id, gotB);
      await linkUp(b.transport, a.peer.id, gotA);
      expect(learnedB).toEqual(["cluster-a"]);
      expect(learnedA).toEqual([]);
    });

    test("both directions work on the same pair", async () => {
      const { a, b, gotA, gotB } = await setup();
      await linkUp(a.transport, b.peer.id, gotB);
      await linkUp(b.transport, a.peer.id, gotA);
      a.transport.send(b.peer.id, new Uint8Array([1]));
      b.transport.send(a.peer.id, new Uint8Array([2]));
      await waitFor(() => gotA.length === 1 && gotB.length === 1, "one frame each way");
      expect(gotA[0]!.from).toBe(b.peer.id);
      expect(Array.from(gotA[0]!.frame)).toEqual([2]);
      expect(Array.from(gotB[0]!.frame)).toEqual([1]);
    });

    test("sending to an unknown peer returns false and does not throw", async () => {
      const { a } = await setup();
      expect(a.transport.send(999_999, new Uint8Array([1, 2, 3]))).toBe(false);
    });

    test("binary integrity: every byte value survives, and later mutation by the sender does not leak", async () => {
      const { a, b, gotB } = await setup();
      await linkUp(a.transport, b.peer.id, gotB);
      const frame = new Uint8Array(4096);
      for (let i = 0; i < frame.length; i++) frame[i] = (i * 31 + 7) & 0xff;
      const expected = frame.slice();
      // A view into a larger buffer: the transport must send the view, not the whole buffer.
      const backing = new Uint8Array(frame.length + 16);
      backing.set(frame, 8);
      const view = backing.subarray(8, 8 + frame.length);
      expect(a.transport.send(b.peer.id, view)).toBe(true);
      backing.fill(0);
      await waitFor(() => gotB.length === 1, "the binary frame");
      expect(gotB[0]!.frame.length).toBe(expected.length);
      expect(sameBytes(gotB[0]!.frame, expected)).toBe(true);
    });

    test("an empty frame arrives as an empty frame", async () => {
      const { a, b, gotB } = await setup();
      await linkUp(a.transport, b.peer.id, gotB);
      a.transport.send(b.peer.id, new Uint8Array(0));
      a.transport.send(b.peer.id, new Uint8Array([9]));
      await waitFor(() => gotB.length === 2, "two frames");
      expect(gotB[0]!.frame.length).toBe(0);
      expect(Array.from(gotB[1]!.frame)).toEqual([9]);
    });

    test(`large frames (${largeFrameBytes} bytes) arrive intact`, async () => {
      const { a, b, gotB } = await setup();
      await linkUp(a.transport, b.peer.id, gotB);
      const big = new Uint8Array(largeFrameBytes);
      for (let i = 0; i < big.length; i++) big[i] = (i ^ (i >> 8)) & 0xff;
      expect(a.transport.send(b.peer.id, big)).toBe(true);
      a.transport.send(b.peer.id, new Uint8Array([42]));
      await waitFor(() => gotB.length === 2, "the large frame and its follower");
      expect(sameBytes(gotB[0]!.frame, big)).toBe(true);
      expect(Array.from(gotB[1]!.frame)).toEqual([42]);
    });

    test("a peer added later becomes reachable; a removed peer is not", async () => {
      const { a, b, gotB } = await setup({ aKnowsB: false });
      expect(a.transport.send(b.peer.id, new Uint8Array([1]))).toBe(false);
      a.transport.addPeer(b.peer);
      await linkUp(a.transport, b.peer.id, gotB);
      a.transport.send(b.peer.id, new Uint8Array([5]));
      await waitFor(() => gotB.length === 1, "a frame to the added peer");
      expect(Array.from(gotB[0]!.frame)).toEqual([5]);
      a.transport.removePeer(b.peer.id);
      expect(a.transport.send(b.peer.id, new Uint8Array([6]))).toBe(false);
    });

    test("stop stops delivery: nothing reaches a stopped receiver, a stopped sender's send returns false", async () => {
      const { a, b, gotB } = await setup();
      await linkUp(a.transport, b.peer.id, gotB);
      await b.transport.stop();
      const before = gotB.length;
      let threw = false;
      try {
        for (let i = 0; i < 10; i++) a.transport.send(b.peer.id, new Uint8Array([i]));
      } catch {
        threw = true;
      }
      expect(threw).toBe(false);
      await new Promise((r) => setTimeout(r, 50));
      expect(gotB.length).toBe(before);
      await a.transport.stop();
      expect(a.transport.send(b.peer.id, new Uint8Array([1]))).toBe(false);
    });

    test("stop is idempotent and resolves", async () => {
      const { a } = await setup();
      await a.transport.stop();
      await a.transport.stop();
    });
  });
}

function isProbe(frame: Uint8Array): boolean {
  return frame.length === 2 && frame[0] === 0xfe && frame[1] === 0xed;
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
