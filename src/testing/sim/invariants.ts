/**
 * Safety invariants checked as the simulation runs. Each check throws an `InvariantViolation` naming
 * the invariant; the simulator adds the seed, step and time to the report.
 */
import type { ConfState, Entry, NodeId } from "../../raft/types.ts";

export type InvariantName =
  | "election-safety" // at most one leader per term
  | "log-matching" // same (index, term) => same entry and same history before it
  | "leader-completeness" // a leader holds every entry committed in an earlier term
  | "state-machine-safety" // every node applies the same entry at each index
  | "commit-monotonic" // a node's commit index never decreases
  | "durable-ack" // nothing acknowledged before it is durable on a majority
  | "storage" // a Ready asked for an impossible storage operation
  | "apply-order" // entries applied in order, without gaps
  | "linearizability" // the client history
  | "liveness" // no progress after the faults were healed
  | "core-error"; // the core threw where it must not

export class InvariantViolation extends Error {
  constructor(readonly invariant: InvariantName, readonly detail: string) {
    super(`${invariant}: ${detail}`);
  }
}

export function violation(invariant: InvariantName, detail: string): never {
  throw new InvariantViolation(invariant, detail);
}

const decoder = new TextDecoder("latin1");

/** A compact identity for an entry's content. */
export function entryKey(e: Entry): string {
  return e.type + ":" + (e.data.length > 64 ? e.data.length + ":" + decoder.decode(e.data) : decoder.decode(e.data));
}

/** Global records that the per-node checks compare against. */
export class InvariantLedger {
  /** term -> the one leader seen in it. */
  private leaders = new Map<number, NodeId>();
  /** "index:term" -> the entry content and the term of the entry before it. */
  private written = new Map<string, { key: string; prevTerm: number }>();
  /** index -> the entry applied there (term, key) and the highest term of any node that applied it. */
  readonly applied: { term: number; key: string; seenInTerm: number }[] = [];
  /** index -> the configuration of the leader that first committed it. */
  readonly commitConf: ConfState[] = [];

  /** Election safety. Returns true when this (term, leader) is new (a fresh leader to check). */
  observeLeader(id: NodeId, term: number): boolean {
    const prev = this.leaders.get(term);
    if (prev === undefined) {
      this.leaders.set(term, id);
      return true;
    }
    if (prev !== id) violation("election-safety", `nodes ${prev} and ${id} are both leaders of term ${term}`);
    return false;
  }

  leaderOf(term: number): NodeId | undefined {
    return this.leaders.get(term);
  }

  /** Log matching: an entry written at (index, term) always has the same content and predecessor term. */
  observeWrite(node: NodeId, e: Entry, prevTerm: number): void {
    const k = e.index + ":" + e.term;
    const key = entryKey(e);
    const prev = this.written.get(k);
    if (!prev) {
      this.written.set(k, { key, prevTerm });
      return;
    }
    if (prev.key !== key) violation("log-matching", `node ${node} wrote a different entry at index ${e.index} term ${e.term}`);
    if (prev.prevTerm !== prevTerm) {
      violation("log-matching", `node ${node} has entry ${e.index}@${e.term} after term ${prevTerm}, another node after term ${prev.prevTerm}`);
    }
  }

  /** State machine safety. `nodeTerm` is the applying node's current term (an upper bound of the commit term). */
  observeApply(node: NodeId, e: Entry, nodeTerm: number): void {
    const key = entryKey(e);
    const prev = this.applied[e.index];
    if (!prev) {
      this.applied[e.index] = { term: e.term, key, seenInTerm: nodeTerm };
      return;
    }
    if (prev.term !== e.term || prev.key !== key) {
      violation("state-machine-safety", `node ${node} applied ${e.index}@${e.term} but ${e.index}@${prev.term} was applied elsewhere`);
    }
    if (nodeTerm < prev.seenInTerm) prev.seenInTerm = nodeTerm;
  }

  /**
   * Leader completeness: a new leader of `term` must hold every entry known committed in an earlier
   * term. `has(index, term)` tells whether the leader's log (or snapshot) holds it.
   */
  checkLeaderCompleteness(node: NodeId, term: number, has: (index: number, term: number) => boolean): void {
    for (let i = 1; i < this.applied.length; i++) {
      const a = this.applied[i];
      if (!a || a.seenInTerm >= term) continue;
      if (!has(i, a.term)) {
        violation("leader-completeness", `leader ${node} of term ${term} lacks entry ${i}@${a.term}, committed by term ${a.seenInTerm}`);
      }
    }
  }
}
