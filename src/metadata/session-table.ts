/**
 * Exactly-once for proposals: per client, the results of its recent sequence numbers, so a retry of a
 * (clientId, seq) that already applied gets the original result instead of applying twice. Bounded: a client
 * acknowledges results with `ackBelow`, each client keeps at most `maxResultsPerClient`, and the least recently
 * used client is forgotten beyond `maxClients` (a forgotten client's retry would apply again: the bound is the
 * price of finite memory, as in the Raft thesis §6.3). Pure data, updated only by apply: the same on every node.
 */
import type { ApplyResult } from "./types.ts";

export interface SessionLimits {
  maxClients: number;
  maxResultsPerClient: number;
}

export const defaultSessionLimits: SessionLimits = { maxClients: 4096, maxResultsPerClient: 1024 };

interface Session {
  /** Sequence numbers below this are forgotten: a retry of one is refused, never re-applied. */
  floor: number;
  /** seq → result, in apply order. */
  results: Map<number, ApplyResult>;
}

export type SessionLookup = { kind: "new" } | { kind: "duplicate"; result: ApplyResult } | { kind: "stale"; floor: number };

/** Snapshot form: [clientId, floor, [[seq, result], ...]] in least-recently-used-first order (results in apply order). */
export type SessionSnapshot = [string, number, [number, ApplyResult][]][];

export class SessionTable {
  #sessions = new Map<string, Session>();
  constructor(readonly limits: SessionLimits = defaultSessionLimits) {}

  get size(): number {
    return this.#sessions.size;
  }

  lookup(clientId: string, seq: number): SessionLookup {
    const s = this.#sessions.get(clientId);
    if (!s) return { kind: "new" };
    if (seq < s.floor) return { kind: "stale", floor: s.floor };
    const result = s.results.get(seq);
    return result ? { kind: "duplicate", result } : { kind: "new" };
  }

  record(clientId: string, seq: number, ackBelow: number | undefined, result: ApplyResult): void {
    let s = this.#sessions.get(clientId);
    if (s) this.#sessions.delete(clientId); // re-inserted below: Map order is the LRU order
    else s = { floor: 1, results: new Map() };
    this.#sessions.set(clientId, s);
    if (ackBelow !== undefined && ackBelow > s.floor) {
      s.floor = ackBelow;
      // Drop acknowledged results from the oldest on, stopping at the first one still wanted: O(1) per result
      // instead of a scan of every kept result per apply (with 256 writes in flight, a few µs per write on
      // every node). Apply order is seq order except for retries; a retried result behind a newer one goes
      // once it reaches the front (or by the size bound), and lookup answers nothing below the floor.
      for (const k of s.results.keys()) {
        if (k >= ackBelow) break;
        s.results.delete(k);
      }
    }
    s.results.set(seq, result);
    while (s.results.size > this.limits.maxResultsPerClient) {
      const oldest = s.results.keys().next().value as number;
      s.results.delete(oldest);
      s.floor = Math.max(s.floor, oldest + 1);
    }
    while (this.#sessions.size > this.limits.maxClients) {
      this.#sessions.delete(this.#sessions.keys().next().value as string);
    }
  }

  toSnapshot(): SessionSnapshot {
    return [...this.#sessions].map(([id, s]) => [id, s.floor, [...s.results]]);
  }

  static fromSnapshot(snap: SessionSnapshot, limits: SessionLimits = defaultSessionLimits): SessionTable {
    const t = new SessionTable(limits);
    for (const [id, floor, results] of snap) t.#sessions.set(id, { floor, results: new Map(results) });
    return t;
  }
}
