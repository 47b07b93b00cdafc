import type { BrokerStatus } from "./types.ts";

/** Defaults of the guide: a broker silent for 30 s fails; the leader looks every 5 s. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 30_000;
export const DEFAULT_CHECK_INTERVAL_MS = 5_000;
/**
 * Hysteresis: a FAILED broker becomes ALIVE again only once it has kept heartbeating (no gap longer than the
 * heartbeat timeout) for this long, so a broker on a flaky link does not bounce its replicas back and forth.
 * With a 10 s heartbeat interval that is the second heartbeat after it comes back. 0 recovers on the first.
 */
export const DEFAULT_RECOVERY_PERIOD_MS = 10_000;

export interface HealthSettings {
  heartbeatTimeoutMs: number;
  recoveryPeriodMs: number;
}

/** A status change the leader should propose. */
export interface HealthTransition {
  brokerId: number;
  status: BrokerStatus;
  reason: string;
}

/**
 * The leader's view of broker liveness: heartbeat times on the leader's own clock (never written to the Raft
 * log) and the decisions derived from them. Pure bookkeeping: the registry feeds it times and statuses and
 * proposes what it returns.
 */
export class HealthTracker {
  readonly #lastSeen = new Map<number, number>();
  readonly #recoveringSince = new Map<number, number>();
  #leaderSince: number | undefined;

  constructor(readonly settings: HealthSettings) {}

  get leaderSince(): number | undefined {
    return this.#leaderSince;
  }

  /**
   * This node just became leader: every broker gets one full timeout from now, because the previous
   * leader's heartbeat times are not replicated and the new leader cannot tell who was quiet.
   */
  becameLeader(now: number): void {
    this.#leaderSince = now;
    this.#recoveringSince.clear();
  }

  lostLeadership(): void {
    this.#leaderSince = undefined;
    this.#recoveringSince.clear();
  }

  /** A (re-)registration counts as a sign of life. */
  sawRegistration(id: number, now: number): void {
    this.#lastSeen.set(id, Math.max(this.#lastSeen.get(id) ?? now, now));
  }

  forget(id: number): void {
    this.#lastSeen.delete(id);
    this.#recoveringSince.delete(id);
  }

  lastSeen(id: number): number | undefined {
    return this.#lastSeen.get(id);
  }

  /** Records a heartbeat of a broker in `status`; returns the status to propose, if any. */
  heartbeat(id: number, status: BrokerStatus, now: number): HealthTransition | undefined {
    const previous = this.#lastSeen.get(id);
    this.#lastSeen.set(id, now);
    if (status === "STARTING") return { brokerId: id, status: "ALIVE", reason: "first heartbeat" };
    if (status !== "FAILED") {
      this.#recoveringSince.delete(id);
      return undefined;
    }
    let since = this.#recoveringSince.get(id);
    const gap = previous === undefined ? Infinity : now - previous;
    if (since === undefined || gap > this.settings.heartbeatTimeoutMs) {
      since = now;
      this.#recoveringSince.set(id, since);
    }
    if (now - since >= this.settings.recoveryPeriodMs) {
      return { brokerId: id, status: "ALIVE", reason: `heartbeating again for ${now - since} ms` };
    }
    return undefined;
  }

  /** The periodic check on the leader: ALIVE brokers silent for longer than the timeout fail. */
  check(brokers: Iterable<{ id: number; status?: BrokerStatus }>, now: number): HealthTransition[] {
    if (this.#leaderSince === undefined) return [];
    const out: HealthTransition[] = [];
    const sorted = [...brokers].sort((a, b) => a.id - b.id);
    for (const b of sorted) {
      if (b.status !== "ALIVE") continue;
      const last = Math.max(this.#lastSeen.get(b.id) ?? -Infinity, this.#leaderSince);
      const silent = now - last;
      if (silent > this.settings.heartbeatTimeoutMs) {
        out.push({ brokerId: b.id, status: "FAILED", reason: `no heartbeat for ${silent} ms` });
      }
    }
    return out;
  }
}
