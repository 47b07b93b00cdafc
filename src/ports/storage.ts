import type { Entry, HardState, InitialState, Snapshot } from "../raft/types.ts";

/**
 * Durable Raft storage. Every mutating method resolves only once its effect is durable (fsync or
 * equivalent); a crash after it resolves loses nothing. Calls are issued one at a time by the driver
 * (the next begins after the previous resolved), except that one Ready's append and a setHardState that
 * only moves the commit index may be issued together: an implementation applies calls in the order made
 * and, after a failed call, fails every later one (so a commit never outlives the entries it covers).
 * An implementation may batch internally.
 *
 * The log holds entries (firstIndex..lastIndex), contiguous. After a snapshot at index S, firstIndex is
 * S + 1 unless a suffix was kept.
 */
export interface Storage {
  /** Opens (creating if needed) and returns everything needed to restart a node. */
  open(): Promise<InitialState>;
  /**
   * Appends entries durably. If entries[0].index <= lastIndex, the stored suffix from entries[0].index on
   * is replaced (truncate then append). entries[0].index must be <= lastIndex + 1.
   */
  append(entries: Entry[]): Promise<void>;
  /** Removes every entry with index >= fromIndex. */
  truncateSuffix(fromIndex: number): Promise<void>;
  /** Entries in [lo, hi), in order. Throws NotFound-coded StreamBusError for compacted ranges. */
  entries(lo: number, hi: number): Promise<Entry[]>;
  /** Term of the entry at index; the snapshot's term at its index; undefined when unknown. */
  term(index: number): Promise<number | undefined>;
  firstIndex(): Promise<number>;
  lastIndex(): Promise<number>;
  setHardState(state: HardState): Promise<void>;
  /**
   * Stores the snapshot durably. Entries up to snapshot.meta.index are dropped, unless the entry at
   * meta.index has meta.term: then the suffix after it is kept (a log that matches the snapshot).
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Latest stored snapshot, if any. */
  snapshot(): Promise<Snapshot | undefined>;
  /** Drops entries with index < compactIndex (they are covered by a stored snapshot). */
  compact(compactIndex: number): Promise<void>;
  /**
   * Stores the id of the cluster this state belongs to, durably; open() returns it from then on. Called
   * once per node (when it founds a cluster or learns the id from a peer), possibly while other calls
   * run. Optional: without it a node learns its cluster id again after each restart.
   */
  setClusterId?(id: string): Promise<void>;
  close(): Promise<void>;
}
