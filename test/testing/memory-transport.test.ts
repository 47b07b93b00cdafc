import { describe, expect, test } from "bun:test";
import { runTransportConformance } from "../../src/testing/conformance/transport.ts";
import { MemoryNetwork } from "../../src/testing/memory-transport.ts";

runTransportConformance("memory", () => {
  const net = new MemoryNetwork();
  return {
    a: { transport: net.transport(), peer: { id: 1, addr: "mem-1" } },
    b: { transport: net.transport(), peer: { id: 2, addr: "mem-2" } },
  };
});

describe("MemoryNetwork faults", () => {
  async function trio() {
    const net = new MemoryNetwork();
    const peers = [1, 2, 3].map((id) => ({ id, addr: `mem-${id}` }));
    const got = new Map<number, { from: number; byte: number }[]>();
    const ts = [];
    for (const p of peers) {
      const t = net.transport();
      got.set(p.id, []);
      await t.start(p, peers, (from, frame) => got.get(p.id)!.push({ from, byte: frame[0]! }));
      ts.push(t);
    }
    return { net, ts, got };
  }
  const flush = () => new Promise((r) => setTimeout(r, 0));

  test("delivery is asynchronous: the handler never runs inside send", async () => {
    const { ts, got } = await trio();
    ts[0]!.send(2, new Uint8Array([1]));
    expect(got.get(2)!.length).toBe(0);
    await flush();
    expect(got.get(2)).toEqual([{ from: 1, byte: 1 }]);
  });

  test("partition drops frames both ways across the cut, heal restores them", async () => {
    const { net, ts, got } = await trio();
    net.partition([1], [2, 3]);
    expect(ts[0]!.send(2, new Uint8Array([1]))).toBe(true); // lost silently, like a real network
    ts[1]!.send(1, new Uint8Array([2]));
    ts[1]!.send(3, new Uint8Array([3]));
    await flush();
    expect(got.get(2)!.length).toBe(0);
    expect(got.get(1)!.length).toBe(0);
    expect(got.get(3)).toEqual([{ from: 2, byte: 3 }]);
    expect(net.stats.dropped).toBe(2);
    net.heal();
    ts[0]!.send(2, new Uint8Array([4]));
    await flush();
    expect(got.get(2)).toEqual([{ from: 1, byte: 4 }]);
  });

  test("isolate cuts a node off; cut is one-directional", async () => {
    const { net, ts, got } = await trio();
    net.isolate(3);
    ts[0]!.send(3, new Uint8Array([1]));
    ts[2]!.send(1, new Uint8Array([2]));
    net.heal();
    net.cut(1, 2);
    ts[0]!.send(2, new Uint8Array([3]));
    ts[1]!.send(1, new Uint8Array([4]));
    await flush();
    expect(got.get(3)!.length).toBe(0);
    expect(got.get(2)!.length).toBe(0);
    expect(got.get(1)).toEqual([{ from: 2, byte: 4 }]);
  });

  test("a filter drops chosen frames; a stopped node makes send return false", async () => {
    const { net, ts, got } = await trio();
    net.setFilter((_f, _t, frame) => frame[0] !== 13);
    ts[0]!.send(2, new Uint8Array([13]));
    ts[0]!.send(2, new Uint8Array([14]));
    await flush();
    expect(got.get(2)!.map((r) => r.byte)).toEqual([14]);
    await ts[1]!.stop();
    expect(ts[0]!.send(2, new Uint8Array([1]))).toBe(false);
  });

  test("frames in flight to a node that stops are not delivered", async () => {
    const { ts, got } = await trio();
    ts[0]!.send(2, new Uint8Array([1]));
    await ts[1]!.stop();
    await flush();
    expect(got.get(2)!.length).toBe(0);
  });

  test("a restarted node takes over its id", async () => {
    const { net, ts, got } = await trio();
    await ts[1]!.stop();
    const again: number[] = [];
    const t2 = net.transport();
    await t2.start({ id: 2, addr: "mem-2" }, [{ id: 1, addr: "mem-1" }], (_f, frame) => again.push(frame[0]!));
    ts[0]!.send(2, new Uint8Array([8]));
    await flush();
    expect(again).toEqual([8]);
    expect(got.get(2)!.length).toBe(0);
  });
});
