/** Time as a port, so tests and the simulator drive it. */
export interface Clock {
  /** Milliseconds since some fixed origin. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock: web-standard timers and performance.now(). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Calls `fn` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown;
  let stopped = false;
  const loop = () => {
    if (stopped) return;
    fn();
    if (!stopped) handle = clock.setTimeout(loop, ms);
  };
  handle = clock.setTimeout(loop, ms);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}
