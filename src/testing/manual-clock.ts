import type { Clock } from "../ports/clock.ts";

interface Timer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A Clock whose time moves only when a test says so. Due timers fire in order of due time, then of
 * creation, so a run is repeatable.
 *
 * @example
 * const clock = new ManualClock();
 * clock.setTimeout(() => console.log("fired"), 100);
 * clock.advance(100); // prints "fired"
 */
export class ManualClock implements Clock {
  private time: number;
  private nextId = 1;
  private seq = 0;
  private timers = new Map<number, Timer>();

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.timers.set(id, { id, at: this.time + delay, seq: this.seq++, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === "number") this.timers.delete(handle);
  }

  /** Number of timers not yet fired or cleared. */
  pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer due by then (including ones the fired callbacks
   * schedule inside the window), each with now() equal to its due time.
   */
  advance(ms: number): void {
    const end = this.time + Math.max(0, ms);
    while (this.fireNext(end));
    this.time = end;
  }

  /**
   * Like advance, but lets promises, microtasks and queued work settle between timers (one macrotask
   * turn each), so async code driven by the timers runs as it would in real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.time + Math.max(0, ms);
    for (;;) {
      await settle();
      if (!this.fireNext(end)) break;
    }
    this.time = end;
    await settle();
  }

  /**
   * Advances in steps of `stepMs` (letting async work settle after each) until `condition()` holds.
   * Throws after `maxMs` of simulated time, naming `what`.
   */
  async runUntil(
    condition: () => boolean,
    opts: { stepMs?: number; maxMs?: number; what?: string } = {},
  ): Promise<void> {
    const stepMs = opts.stepMs ?? 10;
    const maxMs = opts.maxMs ?? 60_000;
    const deadline = this.time + maxMs;
    await settle();
    while (!condition()) {
      if (this.time >= deadline) {
        throw new Error(`ManualClock.runUntil: ${opts.what ?? "condition"} not reached after ${maxMs} ms of simulated time`);
      }
      await this.advanceAsync(stepMs);
    }
  }

  /** Fires the earliest timer due by `end` (now() set to its due time); false when none is due. */
  private fireNext(end: number): boolean {
    const next = this.nextDue(end);
    if (!next) return false;
    this.timers.delete(next.id);
    this.time = Math.max(this.time, next.at);
    next.fn();
    return true;
  }

  private nextDue(end: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers.values()) {
      if (t.at > end) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

type Immediate = (fn: () => void) => unknown;
const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;

/**
 * One macrotask turn: every queued microtask (and promise chain it starts) runs before this resolves.
 * Uses setImmediate where the runtime has it (Bun, Node, Deno): microseconds, where setTimeout(0) costs
 * about a millisecond, which adds up over thousands of simulated steps.
 */
export function settle(): Promise<void> {
  if (immediate) return new Promise((resolve) => void immediate(resolve));
  return new Promise((resolve) => setTimeout(resolve, 0));
}
