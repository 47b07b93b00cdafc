import { describe, expect, test } from "bun:test";
import { every } from "../../src/ports/clock.ts";
import { ManualClock } from "../../src/testing/manual-clock.ts";

describe("ManualClock", () => {
  test("time moves only on advance; due timers fire in time order, ties in creation order", () => {
    const c = new ManualClock();
    const log: string[] = [];
    c.setTimeout(() => log.push(`b@${c.now()}`), 20);
    c.setTimeout(() => log.push(`a@${c.now()}`), 10);
    c.setTimeout(() => log.push(`c@${c.now()}`), 20);
    expect(c.now()).toBe(0);
    c.advance(15);
    expect(log).toEqual(["a@10"]);
    expect(c.now()).toBe(15);
    c.advance(5);
    expect(log).toEqual(["a@10", "b@20", "c@20"]);
  });

  test("timers scheduled by callbacks within the window fire too; cleared ones never", () => {
    const c = new ManualClock();
    const log: number[] = [];
    const h = c.setTimeout(() => log.push(-1), 5);
    c.clearTimeout(h);
    c.setTimeout(() => {
      log.push(c.now());
      c.setTimeout(() => log.push(c.now()), 3);
    }, 2);
    c.advance(10);
    expect(log).toEqual([2, 5]);
    expect(c.pending()).toBe(0);
  });

  test("every() ticks at its period", () => {
    const c = new ManualClock();
    let n = 0;
    const stop = every(c, 10, () => n++);
    c.advance(55);
    expect(n).toBe(5);
    stop();
    c.advance(100);
    expect(n).toBe(5);
  });

  test("runUntil lets async work settle between steps and fails with a clear message", async () => {
    const c = new ManualClock();
    let done = false;
    c.setTimeout(() => Promise.resolve().then(() => (done = true)), 30);
    await c.runUntil(() => done, { stepMs: 10 });
    expect(c.now()).toBe(30);
    await expect(c.runUntil(() => false, { maxMs: 50, what: "never" })).rejects.toThrow("never");
  });
});
