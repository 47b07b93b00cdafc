/**
 * The in-memory mirror of a durable Raft log (entries since the snapshot, and the snapshot itself) that the
 * file and IndexedDB storages both keep, with the Storage read methods answered from it. Subclasses own the
 * durable side and keep `first`, `log` and `snap` in step with what they persist.
 */
import type { Entry, HardState, InitialState, Snapshot } from "../raft/types.ts";
import { checkRange, copyEntry, copySnapshot } from "./log-rules.ts";

export abstract class MirroredLogStorage {
  protected snap?: Snapshot;
  /** Index of log[0] (snapshot index + 1, or 1); kept explicitly so an empty log still knows it. */
  protected first = 1;
  protected log: Entry[] = [];

  /** Throws StreamBusError "Unavailable" when the storage is not open or a write failed. */
  protected abstract check(): void;

  async entries(lo: number, hi: number): Promise<Entry[]> {
    this.check();
    checkRange(lo, hi, this.first, this.last());
    return this.log.slice(lo - this.first, hi - this.first).map(copyEntry);
  }

  async term(index: number): Promise<number | undefined> {
    this.check();
    return this.termAt(index);
  }

  async firstIndex(): Promise<number> {
    this.check();
    return this.first;
  }

  async lastIndex(): Promise<number> {
    this.check();
    return this.last();
  }

  async snapshot(): Promise<Snapshot | undefined> {
    this.check();
    return this.snap && copySnapshot(this.snap);
  }

  /** What open() returns: copies of the hard state, the snapshot and the log, and the cluster id if any. */
  protected initialState(hardState: HardState, clusterId: string | undefined): InitialState {
    return {
      hardState: { ...hardState },
      snapshot: this.snap && copySnapshot(this.snap),
      entries: this.log.map(copyEntry),
      ...(clusterId !== undefined && { clusterId }),
    };
  }

  protected last(): number {
    return this.first + this.log.length - 1;
  }

  /** The snapshot's term at its index, 0 at index 0, else the stored entry's term (undefined if none). */
  protected termAt(index: number): number | undefined {
    if (this.snap && index === this.snap.meta.index) return this.snap.meta.term;
    if (index === 0) return 0;
    return this.log[index - this.first]?.term;
  }
}
