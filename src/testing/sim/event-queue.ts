/**
 * The simulator's agenda: callbacks ordered by simulated time, ties broken by insertion order so a
 * seed replays exactly.
 */
interface Event {
  at: number;
  seq: number;
  run: () => void;
}

export class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  /** Current simulated time in milliseconds. */
  now = 0;

  /** Schedules `run` at `now + delay` (delay >= 0). */
  after(delay: number, run: () => void): void {
    this.push({ at: this.now + Math.max(0, delay), seq: this.seq++, run });
  }

  get size(): number {
    return this.heap.length;
  }

  /** Time of the next event, or Infinity. */
  peekTime(): number {
    return this.heap.length ? this.heap[0]!.at : Infinity;
  }

  /** Runs the next event (advancing the clock); false when empty. */
  runNext(): boolean {
    const e = this.pop();
    if (!e) return false;
    this.now = e.at;
    e.run();
    return true;
  }

  private less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Event | undefined {
    const h = this.heap;
    if (!h.length) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
