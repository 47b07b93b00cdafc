import { StreamBusError } from "../errors.ts";
import type { Storage } from "../ports/storage.ts";
import { checkClusterId } from "../raft/cluster-id.ts";
import type { Entry, HardState, InitialState, Snapshot } from "../raft/types.ts";
import { checkCompact, checkRange, copyEntry, copySnapshot, entriesToAppend } from "../storage/log-rules.ts";

export { checkCompact, checkRange, copyEntry, copySnapshot, entriesToAppend };

/** The durable contents of a storage: what survives a restart. */
export interface StorageContents {
  hardState: HardState;
  snapshot?: Snapshot;
  /** Contiguous entries after the snapshot (or from index 1 without one). */
  entries: Entry[];
  /** Index of the first stored entry (snapshot index + 1, or 1). Kept explicitly for an empty log. */
  firstIndex: number;
  clusterId?: string;
}

/** A fresh, empty log: no snapshot, hard state all zero, firstIndex 1. */
export function emptyContents(): StorageContents {
  return { hardState: { term: 0, vote: 0, commit: 0 }, entries: [], firstIndex: 1 };
}

/**
 * In-memory Storage with the exact semantics the durable ones have. Every method's effect is "durable"
 * at once; `clone()` copies the durable contents into a new instance, which simulates a restart (or a
 * crash: nothing is buffered). Used by unit tests and the simulator.
 *
 * @example
 * const s = memoryStorage(); await s.open(); await s.append(entries);
 * const restarted = s.clone(); const initial = await restarted.open();
 */
export class MemoryStorage implements Storage {
  private c: StorageContents;
  private closed = false;

  constructor(contents: StorageContents = emptyContents()) {
    this.c = contents;
  }

  /** A new storage over a deep copy of this one's durable contents (as after a restart). */
  clone(): MemoryStorage {
    return new MemoryStorage(this.contents());
  }

  /** A deep copy of the durable contents. */
  contents(): StorageContents {
    return {
      hardState: { ...this.c.hardState },
      snapshot: this.c.snapshot && copySnapshot(this.c.snapshot),
      entries: this.c.entries.map(copyEntry),
      firstIndex: this.c.firstIndex,
      ...(this.c.clusterId !== undefined && { clusterId: this.c.clusterId }),
    };
  }

  async open(): Promise<InitialState> {
    this.closed = false;
    return {
      hardState: { ...this.c.hardState },
      snapshot: this.c.snapshot && copySnapshot(this.c.snapshot),
      entries: this.c.entries.map(copyEntry),
      ...(this.c.clusterId !== undefined && { clusterId: this.c.clusterId }),
    };
  }

  async setClusterId(id: string): Promise<void> {
    this.check();
    this.c.clusterId = checkClusterId(id);
  }

  async append(entries: Entry[]): Promise<void> {
    this.check();
    const keep = entriesToAppend(entries, this.c.firstIndex, this.last());
    if (keep.length === 0) return;
    this.c.entries.length = keep[0].index - this.c.firstIndex;
    for (const e of keep) this.c.entries.push(copyEntry(e));
  }

  async truncateSuffix(fromIndex: number): Promise<void> {
    this.check();
    const keep = Math.max(0, fromIndex - this.c.firstIndex);
    if (keep < this.c.entries.length) this.c.entries.length = keep;
  }

  async entries(lo: number, hi: number): Promise<Entry[]> {
    this.check();
    checkRange(lo, hi, this.c.firstIndex, this.last());
    return this.c.entries.slice(lo - this.c.firstIndex, hi - this.c.firstIndex).map(copyEntry);
  }

  async term(index: number): Promise<number | undefined> {
    this.check();
    const snap = this.c.snapshot?.meta;
    if (snap && index === snap.index) return snap.term;
    if (index === 0) return 0;
    return this.c.entries[index - this.c.firstIndex]?.term;
  }

  async firstIndex(): Promise<number> {
    this.check();
    return this.c.firstIndex;
  }

  async lastIndex(): Promise<number> {
    this.check();
    return this.last();
  }

  async setHardState(state: HardState): Promise<void> {
    this.check();
    this.c.hardState = { term: state.term, vote: state.vote, commit: state.commit };
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.check();
    const { index, term } = snapshot.meta;
    // An older snapshot than the stored one carries nothing new; keeping the newer one is always safe.
    if (this.c.snapshot && index < this.c.snapshot.meta.index) return;
    const matches = (await this.term(index)) === term;
    const suffix = matches ? this.c.entries.slice(Math.max(0, index + 1 - this.c.firstIndex)) : [];
    this.c.snapshot = copySnapshot(snapshot);
    this.c.entries = suffix;
    this.c.firstIndex = index + 1;
  }

  async snapshot(): Promise<Snapshot | undefined> {
    this.check();
    return this.c.snapshot && copySnapshot(this.c.snapshot);
  }

  async compact(compactIndex: number): Promise<void> {
    this.check();
    if (compactIndex <= this.c.firstIndex) return;
    checkCompact(compactIndex, this.c.snapshot, this.last());
    this.c.entries = this.c.entries.slice(compactIndex - this.c.firstIndex);
    this.c.firstIndex = compactIndex;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private last(): number {
    return this.c.firstIndex + this.c.entries.length - 1;
  }

  private check(): void {
    if (this.closed) throw new StreamBusError("Unavailable", "storage is closed");
  }
}

/** A fresh, empty in-memory storage. */
export function memoryStorage(): MemoryStorage {
  return new MemoryStorage();
}
