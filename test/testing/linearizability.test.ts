import { describe, expect, test } from "bun:test";
import {
  checkLinearizability,
  type KvInput,
  kvModel,
  type KvOutput,
  type Model,
  type Operation,
} from "../../src/testing/linearizability.ts";
import { seededRandom } from "../../src/rng.ts";

type Op = Operation<KvInput, KvOutput>;
const put = (key: string, value: string, call: number, ret: number, clientId?: number): Op => ({
  input: { op: "put", key, value }, output: ret === Infinity ? undefined : {}, call, return: ret, clientId,
});
const get = (key: string, value: string | null, call: number, ret: number): Op => ({
  input: { op: "get", key }, output: { value }, call, return: ret,
});
const cas = (key: string, expected: string | null, value: string, ok: boolean | undefined, call: number, ret: number): Op => ({
  input: { op: "cas", key, expected, value }, output: ok === undefined ? undefined : { ok }, call, return: ret,
});

describe("linearizability checker: key-value register", () => {
  test("empty and sequential histories are linearizable", () => {
    expect(checkLinearizability(kvModel, []).ok).toBe(true);
    const h = [put("x", "1", 0, 1), get("x", "1", 2, 3), put("x", "2", 4, 5), get("x", "2", 6, 7), get("y", null, 0, 9)];
    expect(checkLinearizability(kvModel, h).ok).toBe(true);
  });

  test("classic stale read is rejected and the read is named", () => {
    const h = [put("x", "1", 0, 10), put("x", "2", 20, 30), get("x", "1", 40, 50)];
    const r = checkLinearizability(kvModel, h);
    expect(r.ok).toBe(false);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.partition).toBe("x");
    expect(r.failures[0]!.offending).toContain(h[2]!);
    expect(r.failures[0]!.linearized).toEqual([h[0]!, h[1]!]);
    expect(r.failures[0]!.description).toContain("get(x) -> 1");
  });

  test("a read concurrent with a write may see either value", () => {
    const before = [put("x", "1", 0, 10), put("x", "2", 20, 40), get("x", "1", 25, 35)];
    const after = [put("x", "1", 0, 10), put("x", "2", 20, 40), get("x", "2", 25, 35)];
    expect(checkLinearizability(kvModel, before).ok).toBe(true);
    expect(checkLinearizability(kvModel, after).ok).toBe(true);
  });

  test("two reads that disagree on order (new then old) are rejected", () => {
    // Both reads overlap the write, but the second starts after the first returned: it may not go back.
    const h = [put("x", "1", 0, 5), put("x", "2", 10, 100), get("x", "2", 20, 30), get("x", "1", 40, 50)];
    expect(checkLinearizability(kvModel, h).ok).toBe(false);
  });

  test("a read of a value never written is rejected", () => {
    expect(checkLinearizability(kvModel, [put("x", "1", 0, 10), get("x", "7", 20, 30)]).ok).toBe(false);
    expect(checkLinearizability(kvModel, [get("x", "1", 0, 10), put("x", "1", 20, 30)]).ok).toBe(false);
  });

  test("a timed-out write may take effect late or never", () => {
    const took = [put("x", "1", 0, 10), put("x", "2", 20, Infinity), get("x", "1", 30, 40), get("x", "2", 50, 60)];
    const never = [put("x", "1", 0, 10), put("x", "2", 20, Infinity), get("x", "1", 30, 40), get("x", "1", 500, 600)];
    expect(checkLinearizability(kvModel, took).ok).toBe(true);
    expect(checkLinearizability(kvModel, never).ok).toBe(true);
    // But it cannot take effect before it was called.
    const early = [put("x", "1", 0, 10), get("x", "2", 12, 15), put("x", "2", 20, Infinity)];
    expect(checkLinearizability(kvModel, early).ok).toBe(false);
    // Nor flip back and forth.
    const flip = [put("x", "1", 0, 10), put("x", "2", 20, Infinity), get("x", "2", 30, 40), get("x", "1", 50, 60)];
    expect(checkLinearizability(kvModel, flip).ok).toBe(false);
  });

  test("reads with unknown outcome are dropped", () => {
    const h: Op[] = [put("x", "1", 0, 10), { input: { op: "get", key: "x" }, output: undefined, call: 5, return: Infinity }];
    expect(checkLinearizability(kvModel, h).ok).toBe(true);
  });

  test("compare-and-set", () => {
    expect(checkLinearizability(kvModel, [cas("x", null, "a", true, 0, 1), cas("x", null, "b", false, 2, 3), get("x", "a", 4, 5)]).ok).toBe(true);
    // Two concurrent CAS from the same expected value cannot both succeed.
    expect(checkLinearizability(kvModel, [cas("x", null, "a", true, 0, 10), cas("x", null, "b", true, 0, 10)]).ok).toBe(false);
    // An unknown CAS can have swapped.
    expect(checkLinearizability(kvModel, [cas("x", null, "a", undefined, 0, Infinity), get("x", "a", 5, 6)]).ok).toBe(true);
    // A failed CAS must see a different value.
    expect(checkLinearizability(kvModel, [put("x", "a", 0, 1), cas("x", "a", "b", false, 2, 3)]).ok).toBe(false);
  });

  test("partitions are independent: a failure in one key is reported for that key only", () => {
    const h = [put("a", "1", 0, 1), get("a", "1", 2, 3), put("b", "1", 0, 1), put("b", "2", 2, 3), get("b", "1", 4, 5)];
    const r = checkLinearizability(kvModel, h);
    expect(r.ok).toBe(false);
    expect(r.failures.map((f) => f.partition)).toEqual(["b"]);
  });

  test("ops that touch at one instant are concurrent", () => {
    expect(checkLinearizability(kvModel, [put("x", "1", 0, 10), get("x", null, 10, 20)]).ok).toBe(true);
  });

  test("a generic model: a counter with increments and reads", () => {
    type In = { inc: boolean };
    const counter: Model<number, In, number> = {
      init: () => 0,
      step: (s, i, o) => (i.inc ? { ok: true, state: s + 1 } : { ok: o === undefined || o === s, state: s }),
      hash: (s) => String(s),
    };
    const ok = [
      { input: { inc: true }, output: 0, call: 0, return: 10 },
      { input: { inc: true }, output: 0, call: 0, return: 10 },
      { input: { inc: false }, output: 1, call: 5, return: 6 },
      { input: { inc: false }, output: 2, call: 11, return: 12 },
    ];
    expect(checkLinearizability(counter, ok).ok).toBe(true);
    const bad = [...ok.slice(0, 3), { input: { inc: false }, output: 1, call: 11, return: 12 }];
    expect(checkLinearizability(counter, bad).ok).toBe(false);
  });

  test("step budget: reports timedOut instead of hanging", () => {
    // Many concurrent writes and an impossible read: exponential without memo help, bounded by maxSteps.
    const h: Op[] = [];
    for (let i = 0; i < 30; i++) h.push(put("x", String(i), 0, 100));
    h.push(get("x", "nope", 200, 300));
    const r = checkLinearizability(kvModel, h, { maxSteps: 1000 });
    expect(r.timedOut || !r.ok).toBe(true);
  });
});

/** A random history produced by a real linearizable register with random latency around each op. */
function randomHistory(seed: number, n: number, keys: number, clients: number): Op[] {
  const rng = seededRandom(seed);
  const values = new Map<string, string | null>();
  const busyUntil = new Array(clients).fill(0);
  const ops: Op[] = [];
  let now = 0;
  for (let i = 0; i < n; i++) {
    now += rng.int(3);
    const c = rng.int(clients);
    const call = Math.max(now, busyUntil[c]!);
    const at = call + rng.int(20); // linearization point
    const ret = at + rng.int(20);
    busyUntil[c] = ret + 1;
    const key = "k" + rng.int(keys);
    const kind = rng.int(10);
    if (kind < 4) {
      ops.push({ ...put(key, `v${i}`, call, rng.chance(0.05) ? Infinity : ret, c), at } as Op & { at: number });
    } else if (kind < 5) {
      ops.push({ ...cas(key, rng.chance(0.5) ? null : `v${i - 1 - rng.int(5)}`, `v${i}`, undefined, call, ret), at } as Op & { at: number });
    } else {
      ops.push({ ...get(key, null, call, ret), at } as Op & { at: number });
    }
  }
  // Apply in linearization-point order to fill in outputs.
  const order = [...ops].sort((a, b) => (a as Op & { at: number }).at - (b as Op & { at: number }).at);
  for (const op of order) {
    const i = op.input;
    const cur = values.get(i.key) ?? null;
    if (i.op === "get") op.output = { value: cur };
    else if (i.op === "put") values.set(i.key, i.value);
    else {
      const swapped = cur === i.expected;
      if (swapped) values.set(i.key, i.value);
      op.output = op.return === Infinity ? undefined : { ok: swapped };
    }
  }
  return ops;
}

describe("linearizability checker: random histories", () => {
  test("histories from a linearizable register always pass", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = checkLinearizability(kvModel, randomHistory(seed, 200, 3, 5));
      if (!r.ok) console.log(`seed ${seed}:\n${r.failures[0]?.description}`);
      expect(r.ok).toBe(true);
    }
  });

  test("a corrupted read in a random history is caught", () => {
    let caught = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const h = randomHistory(seed, 200, 3, 5);
      const reads = h.filter((op) => op.input.op === "get");
      const victim = reads[Math.floor(reads.length / 2)]!;
      victim.output = { value: "never-written" };
      if (!checkLinearizability(kvModel, h).ok) caught++;
    }
    expect(caught).toBe(40);
  });

  test("performance sanity: a few thousand operations check quickly", () => {
    const h = randomHistory(99, 4000, 4, 8);
    const r = checkLinearizability(kvModel, h);
    expect(r.ok).toBe(true);
    expect(r.timedOut).toBe(false);
    // Memoization keeps the search near linear: far fewer steps than ops squared.
    expect(r.steps).toBeLessThan(4000 * 200);
  });
});
