/**
 * A simulated disk for one node. Writes from a Ready are first "written" (pending, lost on a crash),
 * then "synced" (durable) when the simulated fsync completes. A crash keeps a random prefix of the
 * pending writes (a torn tail) and drops the rest. Semantics follow the Storage port.
 */
import type { Random } from "../../rng.ts";
import type { Entry, HardState, InitialState, Snapshot } from "../../raft/types.ts";

export type DiskWrite =
  | { kind: "snapshot"; snapshot: Snapshot }
  | { kind: "entries"; entries: Entry[] }
  | { kind: "hardState"; hardState: HardState };

export interface DurableState {
  hardState: HardState;
  snapshot?: Snapshot;
  /** Contiguous entries after the snapshot. */
  entries: Entry[];
}

export class SimDisk {
  durable: DurableState = { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] };
  private pending: DiskWrite[] = [];
  /** Extra fsync latency (ms) for a slow disk. */
  slowness = 0;

  /** Records writes that are not durable until `sync()`. Returns a problem description, if any. */
  write(writes: DiskWrite[]): void {
    this.pending.push(...writes);
  }

  /** Makes every pending write durable. Returns an error message when a write breaks storage rules. */
  sync(): string | undefined {
    const writes = this.pending;
    this.pending = [];
    for (const w of writes) {
      const problem = applyWrite(this.durable, w);
      if (problem) return problem;
    }
    return undefined;
  }

  /** Applies a write durably at once (a synchronous saveSnapshot by the application). */
  writeDurable(w: DiskWrite): string | undefined {
    return applyWrite(this.durable, w);
  }

  /** Loses unsynced writes, keeping a random prefix of them (possibly cutting an entries batch). */
  crash(random: Random): void {
    const keep = random.int(this.pending.length + 1);
    for (let i = 0; i < keep; i++) {
      const w = this.pending[i]!;
      if (i === keep - 1 && w.kind === "entries" && w.entries.length > 1) {
        const cut = 1 + random.int(w.entries.length);
        applyWrite(this.durable, { kind: "entries", entries: w.entries.slice(0, cut) });
      } else {
        applyWrite(this.durable, w);
      }
    }
    this.pending = [];
  }

  /** What a restarting node loads. */
  initialState(): InitialState {
    const d = this.durable;
    return {
      hardState: { ...d.hardState },
      snapshot: d.snapshot,
      entries: d.entries.slice(),
    };
  }

  /** Whether (index, term) is durable here: in the log, or covered by the snapshot. */
  hasDurable(index: number, term: number): boolean {
    const d = this.durable;
    const snapIndex = d.snapshot?.meta.index ?? 0;
    if (index <= snapIndex) return true; // the snapshot holds it (state machine safety checks the content)
    const e = d.entries[index - snapIndex - 1];
    return e !== undefined && e.term === term;
  }
}

function lastIndex(d: DurableState): number {
  return (d.snapshot?.meta.index ?? 0) + d.entries.length;
}

function applyWrite(d: DurableState, w: DiskWrite): string | undefined {
  const snapIndex = d.snapshot?.meta.index ?? 0;
  switch (w.kind) {
    case "hardState":
      if (w.hardState.commit < d.hardState.commit) {
        return `durable commit went back from ${d.hardState.commit} to ${w.hardState.commit}`;
      }
      if (w.hardState.term < d.hardState.term) {
        return `durable term went back from ${d.hardState.term} to ${w.hardState.term}`;
      }
      d.hardState = { ...w.hardState };
      return undefined;
    case "entries": {
      if (w.entries.length === 0) return undefined;
      const first = w.entries[0]!.index;
      if (first > lastIndex(d) + 1) return `append of entry ${first} leaves a gap after ${lastIndex(d)}`;
      const from = Math.max(first, snapIndex + 1);
      d.entries.length = Math.max(0, from - snapIndex - 1);
      for (const e of w.entries) if (e.index >= from) d.entries.push(e);
      return undefined;
    }
    case "snapshot": {
      const m = w.snapshot.meta;
      if (m.index < snapIndex) return `snapshot at ${m.index} replaces a newer one at ${snapIndex}`;
      const at = d.entries[m.index - snapIndex - 1];
      d.entries = at && at.term === m.term ? d.entries.slice(m.index - snapIndex) : [];
      d.snapshot = w.snapshot;
      return undefined;
    }
  }
}
