/**
 * The rules every Storage implementation shares (memory, file, IndexedDB): what an append may contain,
 * which ranges can be read, when compaction is allowed. One copy, so the implementations cannot drift.
 */
import { StreamBusError } from "../errors.ts";
import type { Entry, Snapshot } from "../raft/types.ts";

/** A deep copy, so callers and storage never share a mutable buffer. */
export function copyEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: e.data.slice() };
}

/** A deep copy of a snapshot (meta and data). */
export function copySnapshot(s: Snapshot): Snapshot {
  // slice() copies only the viewed bytes; structuredClone would copy a view's whole underlying buffer.
  return { meta: structuredClone(s.meta), data: s.data.slice() };
}

/**
 * Checks an append against the log bounds and returns the entries to keep (those below firstIndex are
 * already covered by the snapshot and dropped). Throws Invalid for a gap or a non-contiguous batch.
 */
export function entriesToAppend(entries: Entry[], firstIndex: number, lastIndex: number): Entry[] {
  if (entries.length === 0) return entries;
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].index !== entries[i - 1].index + 1) {
      throw new StreamBusError("Invalid", `append: entries are not contiguous at index ${entries[i].index}`);
    }
  }
  for (const e of entries) {
    if (!Number.isSafeInteger(e.index) || e.index < 1 || !Number.isSafeInteger(e.term) || e.term < 0) {
      throw new StreamBusError("Invalid", `append: bad index ${e.index} or term ${e.term}`);
    }
    if (!(e.data instanceof Uint8Array)) throw new StreamBusError("Invalid", `append: entry ${e.index} data is not a Uint8Array`);
  }
  if (entries[0].index > lastIndex + 1) {
    throw new StreamBusError("Invalid", `append: entry ${entries[0].index} leaves a gap after last index ${lastIndex}`);
  }
  const skip = firstIndex - entries[0].index;
  return skip > 0 ? entries.slice(skip) : entries;
}

/** Checks an entries(lo, hi) range; throws NotFound when compacted, Invalid when out of bounds. */
export function checkRange(lo: number, hi: number, firstIndex: number, lastIndex: number): void {
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo > hi) {
    throw new StreamBusError("Invalid", `entries: bad range [${lo}, ${hi})`);
  }
  if (lo < firstIndex) {
    throw new StreamBusError("NotFound", `entries: index ${lo} is compacted (first index is ${firstIndex})`, { firstIndex });
  }
  if (hi > lastIndex + 1) {
    throw new StreamBusError("Invalid", `entries: range [${lo}, ${hi}) goes past last index ${lastIndex}`, { lastIndex });
  }
}

/** Compaction must stay within the log and behind a stored snapshot, or a restart would find a gap. */
export function checkCompact(compactIndex: number, snapshot: Snapshot | undefined, lastIndex: number): void {
  if (!Number.isSafeInteger(compactIndex) || compactIndex > lastIndex + 1) {
    throw new StreamBusError("Invalid", `compact: index ${compactIndex} is past last index ${lastIndex}`);
  }
  const snapIndex = snapshot?.meta.index ?? 0;
  if (compactIndex > snapIndex + 1) {
    throw new StreamBusError(
      "Invalid",
      `compact: index ${compactIndex} is not covered by the stored snapshot (index ${snapIndex}); save the snapshot first`,
    );
  }
}

