/**
 * The in-memory Raft log since the last compaction point (etcd-raft `log.go` + `log_unstable.go`, without
 * a storage backend: the core keeps everything after the compaction point in memory and the driver persists
 * what Ready says).
 *
 * Index bookkeeping, all monotone except on truncation:
 *   snapIndex <= applied <= applying <= committed <= lastIndex, and stable <= persisting <= lastIndex.
 * `stable` is the highest index known durable; entries after it are handed out in the next Ready.
 */
import { StreamBusError } from "../errors.ts";
import type { Entry } from "./types.ts";

/** The empty entry list (appends that carry only a commit index or probe). */
export const NO_ENTRIES: Entry[] = [];

export class RaftLog {
  /** ents[i].index === snapIndex + 1 + i. */
  ents: Entry[] = [];
  /** Index and term of the entry just before ents[0] (the compaction point or a snapshot). */
  snapIndex = 0;
  snapTerm = 0;
  committed = 0;
  /** Highest index persisted (acknowledged through advance). */
  stable = 0;
  /** Highest index handed out in the outstanding Ready for persistence. */
  persisting = 0;
  /** Highest committed index handed out for applying. */
  applying = 0;
  /** Highest index the application acknowledged as applied. */
  applied = 0;

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.ents.length;
  }

  lastTerm(): number {
    const n = this.ents.length;
    return n === 0 ? this.snapTerm : this.ents[n - 1].term;
  }

  /** Term of the entry at `index`, or undefined when compacted away or beyond the end. */
  term(index: number): number | undefined {
    const off = index - this.snapIndex;
    if (off === 0) return this.snapTerm;
    if (off < 0 || off > this.ents.length) return undefined;
    return this.ents[off - 1].term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** The entry at `index` (must be in memory). */
  entry(index: number): Entry {
    return this.ents[index - this.snapIndex - 1];
  }

  /** Raft's "at least as up-to-date" comparison for votes. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const t = this.lastTerm();
    return lastTerm > t || (lastTerm === t && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi) (must be in memory). */
  slice(lo: number, hi: number): Entry[] {
    if (hi <= lo) return [];
    return this.ents.slice(lo - this.snapIndex - 1, hi - this.snapIndex - 1);
  }

  /** Entries from `lo`, at most `maxCount` of them and about `maxBytes` of data (always at least one). */
  entriesForSend(lo: number, maxCount: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (lo > last) return [];
    const start = lo - this.snapIndex - 1;
    let end = Math.min(this.ents.length, start + maxCount);
    let bytes = 0;
    for (let i = start; i < end; i++) {
      bytes += this.ents[i].data.length + 16;
      if (bytes > maxBytes && i > start) {
        end = i;
        break;
      }
    }
    return this.ents.slice(start, end);
  }

  /** Appends one entry at lastIndex + 1 (leader path). */
  push(e: Entry): void {
    this.ents.push(e);
  }

  /**
   * Appends entries following `prevIndex` (follower path; the caller checked prevIndex matches). Skips
   * entries already present with the same term and truncates only on a real conflict. Returns the last
   * index the message proves to match.
   */
  appendAfter(prevIndex: number, entries: readonly Entry[]): number {
    const n = entries.length;
    const lastNew = prevIndex + n;
    let i = 0;
    // Skip the prefix already present (duplicates and reordered messages are common).
    const last = this.lastIndex();
    while (i < n) {
      const idx = prevIndex + 1 + i;
      if (idx > last) break;
      if (idx <= this.snapIndex) {
        i++;
        continue;
      }
      if (this.ents[idx - this.snapIndex - 1].term !== entries[i].term) {
        if (idx <= this.committed) {
          throw new StreamBusError("Corrupt", `raft: conflicting entry at committed index ${idx} (commit ${this.committed})`, { index: idx });
        }
        this.truncateFrom(idx);
        break;
      }
      i++;
    }
    for (; i < n; i++) this.ents.push(entries[i]);
    return lastNew;
  }

  /** Removes entries with index >= `index`. */
  truncateFrom(index: number): void {
    this.ents.length = Math.max(0, index - this.snapIndex - 1);
    if (this.stable >= index) this.stable = index - 1;
    if (this.persisting >= index) this.persisting = index - 1;
  }

  /**
   * The last index <= `index` whose term is <= `term` (fast backtracking: skip a whole term of
   * conflicting entries in one round trip). Stops at the compaction point.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapIndex) {
      const t = this.ents[i - this.snapIndex - 1].term;
      if (t <= term) break;
      i--;
    }
    return i;
  }

  /** Drops entries <= `index` from memory (they are covered by a snapshot). */
  compact(index: number): void {
    if (index <= this.snapIndex) return;
    if (index > this.lastIndex()) throw new StreamBusError("Invalid", `raft: cannot compact to ${index} past the last index ${this.lastIndex()}`);
    const t = this.term(index)!;
    this.ents = this.ents.slice(index - this.snapIndex);
    this.snapIndex = index;
    this.snapTerm = t;
  }

  /** Replaces the whole log by a snapshot point (the log did not contain the snapshot's last entry). */
  restore(index: number, term: number): void {
    this.ents = [];
    this.snapIndex = index;
    this.snapTerm = term;
    this.committed = index;
    this.stable = index;
    this.persisting = index;
  }

  /** Entries not yet persisted nor handed out for persistence. */
  unstableEntries(): Entry[] {
    const from = Math.max(this.stable, this.persisting) + 1;
    return from > this.lastIndex() ? [] : this.slice(from, this.lastIndex() + 1);
  }

  hasUnstable(): boolean {
    return Math.max(this.stable, this.persisting) < this.lastIndex();
  }

  /** Committed entries not yet handed out for applying. */
  nextCommitted(): Entry[] {
    const from = Math.max(this.applying, this.snapIndex) + 1;
    return from > this.committed ? [] : this.slice(from, this.committed + 1);
  }

  hasNextCommitted(): boolean {
    return Math.max(this.applying, this.snapIndex) < this.committed;
  }
}
