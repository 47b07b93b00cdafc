import { StreamBusError } from "../errors.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { type Clock, systemClock } from "../ports/clock.ts";

/** Where heartbeats go: a BrokerRegistry in process, or an HTTP client posting `/v1/brokers/:id/heartbeat`. */
export interface HeartbeatTarget {
  recordHeartbeat(brokerId: number, opts?: { epoch?: number }): Promise<unknown>;
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

export interface HeartbeatServiceOptions {
  clock?: Clock;
  logger?: Logger;
  /** Time between heartbeats (default 10 s, as in the guide). */
  intervalMs?: number;
  /** Per-send deadline (default: the interval, at most 5 s). */
  timeoutMs?: number;
  /** The broker epoch to send, so the leader can refuse a stale instance. */
  epoch?: number;
  /** Called on each failed send with the error and the number of failures in a row. */
  onError?: (error: unknown, consecutiveFailures: number) => void;
}

export interface HeartbeatStats {
  sent: number;
  succeeded: number;
  failed: number;
  /** Ticks skipped because the previous send had not finished. */
  skipped: number;
  consecutiveFailures: number;
  lastError?: unknown;
  /** Clock time of the last acknowledged heartbeat. */
  lastSuccessAt?: number;
}

/**
 * Sends one broker's heartbeats on an interval, each bounded by a timeout; failures are counted and
 * reported, never thrown, and never overlap (a tick that finds a send in flight is skipped).
 *
 * @example
 * const hb = new HeartbeatService(1, registry, { onError: (e, n) => console.warn("heartbeat failed", n, e) });
 * hb.setInterval(10_000);
 * await hb.start();   // sends the first heartbeat right away
 */
export class HeartbeatService {
  readonly #clock: Clock;
  readonly #log: Logger;
  #intervalMs: number;
  #timeoutMs: number | undefined;
  #epoch: number | undefined;
  #onError: HeartbeatServiceOptions["onError"];
  #timer: unknown;
  #running = false;
  #inFlight: Promise<boolean> | undefined;
  readonly #stats: HeartbeatStats = { sent: 0, succeeded: 0, failed: 0, skipped: 0, consecutiveFailures: 0 };

  constructor(readonly brokerId: number, readonly target: HeartbeatTarget, opts: HeartbeatServiceOptions = {}) {
    if (!Number.isInteger(brokerId) || brokerId <= 0) {
      throw new StreamBusError("Invalid", `broker id must be a positive integer, got ${brokerId}`);
    }
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
    this.#intervalMs = checkMs(opts.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS, "heartbeat interval");
    this.#timeoutMs = opts.timeoutMs === undefined ? undefined : checkMs(opts.timeoutMs, "heartbeat timeout");
    this.#epoch = opts.epoch;
    this.#onError = opts.onError;
  }

  /** Time between heartbeats; applies from the next tick. */
  setInterval(ms: number): void {
    this.#intervalMs = checkMs(ms, "heartbeat interval");
  }
  /** Deadline of one send. */
  setTimeout(ms: number): void {
    this.#timeoutMs = checkMs(ms, "heartbeat timeout");
  }
  setEpoch(epoch: number | undefined): void {
    this.#epoch = epoch;
  }
  setOnError(fn: HeartbeatServiceOptions["onError"]): void {
    this.#onError = fn;
  }

  get interval(): number {
    return this.#intervalMs;
  }
  get timeout(): number {
    return this.#timeoutMs ?? Math.min(this.#intervalMs, 5_000);
  }
  get running(): boolean {
    return this.#running;
  }

  stats(): HeartbeatStats {
    return { ...this.#stats };
  }

  /** Sends the first heartbeat (waiting for it, within the timeout) and then one per interval. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#schedule();
    await this.sendHeartbeat();
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Sends one heartbeat now; true when acknowledged. Joins a send already in flight. */
  sendHeartbeat(): Promise<boolean> {
    if (this.#inFlight) return this.#inFlight;
    this.#inFlight = this.#send().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      if (!this.#running) return;
      if (this.#inFlight) this.#stats.skipped++;
      else void this.sendHeartbeat();
      this.#schedule();
    }, this.#intervalMs);
  }

  async #send(): Promise<boolean> {
    this.#stats.sent++;
    let timer: unknown;
    const deadline = this.timeout;
    try {
      await Promise.race([
        this.target.recordHeartbeat(this.brokerId, this.#epoch === undefined ? undefined : { epoch: this.#epoch }),
        new Promise((_, reject) => {
          timer = this.#clock.setTimeout(
            () => reject(new StreamBusError("Timeout", `heartbeat of broker ${this.brokerId} got no answer within ${deadline} ms`)),
            deadline,
          );
        }),
      ]);
      this.#stats.succeeded++;
      this.#stats.consecutiveFailures = 0;
      this.#stats.lastSuccessAt = this.#clock.now();
      return true;
    } catch (e) {
      this.#stats.failed++;
      this.#stats.consecutiveFailures++;
      this.#stats.lastError = e;
      this.#log.warn("heartbeat.failed", { brokerId: this.brokerId, consecutive: this.#stats.consecutiveFailures, error: e });
      try {
        this.#onError?.(e, this.#stats.consecutiveFailures);
      } catch (cbErr) {
        this.#log.error("heartbeat.on_error_threw", { error: cbErr });
      }
      return false;
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }
}

function checkMs(ms: number, what: string): number {
  if (!(typeof ms === "number" && Number.isFinite(ms) && ms > 0)) {
    throw new StreamBusError("Invalid", `${what} must be a positive number of milliseconds, got ${ms}`);
  }
  return ms;
}
