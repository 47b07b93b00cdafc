/** Reconnect delays: exponential growth from `initialMs` to `maxMs`, with jitter so peers do not dial in lockstep. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 2000 };

/**
 * The delay before reconnect attempt `attempt` (0-based): uniform in [d/2, d] with d = min(max, initial·2^attempt).
 *
 * @example
 * backoffDelay(3, { initialMs: 50, maxMs: 2000 }, Math.random); // between 200 and 400
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const d = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  return d / 2 + random() * (d / 2);
}
