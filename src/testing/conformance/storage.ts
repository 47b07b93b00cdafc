import { afterEach, describe, expect, test } from "bun:test";
import { isStreamBusError } from "../../errors.ts";
import type { Storage } from "../../ports/storage.ts";
import type { ConfState, Entry, Snapshot } from "../../raft/types.ts";
import { seededRandom } from "../../rng.ts";
import { MemoryStorage } from "../memory-storage.ts";

/** One storage under test, plus a way to restart it. */
export interface StorageFixture {
  /** A fresh, empty storage, not yet opened. */
  storage: Storage;
  /**
   * A new, unopened Storage over the same durable state, as a restarted process would see it. The suite
   * has already closed the previous instance.
   */
  reopen(): Storage | Promise<Storage>;
  /** Frees what the fixture made (temporary directories, databases). */
  dispose?(): void | Promise<void>;
}

export type StorageFactory = () => StorageFixture | Promise<StorageFixture>;

const conf: ConfState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

/** Entries lo..hi inclusive with the given term; data encodes the index and term so mix-ups show. */
export function makeEntries(lo: number, hi: number, term: number, size = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) {
    const data = new Uint8Array(size);
    for (let j = 0; j < size; j++) data[j] = (i * 31 + term * 7 + j) & 0xff;
    out.push({ index: i, term, type: "normal", data });
  }
  return out;
}

function snap(index: number, term: number, data = new Uint8Array([9, 8, 7])): Snapshot {
  return { meta: { index, term, conf, addrs: { "1": "127.0.0.1:1" } }, data };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(isStreamBusError(err) ? err.code : String(err)).toBe(code);
}

/**
 * The behaviour every Storage must share (memory, file on each runtime, IndexedDB). `factory` gives a
 * fresh storage per test and a way to reopen it.
 *
 * @example
 * runStorageConformance("memory", () => { const s = memoryStorage(); return { storage: s, reopen: () => s.clone() }; });
 */
export function runStorageConformance(name: string, factory: StorageFactory): void {
  describe(`storage conformance: ${name}`, () => {
    let fixture: StorageFixture | undefined;
    let current: Storage | undefined;

    async function fresh(): Promise<Storage> {
      fixture = await factory();
      current = fixture.storage;
      await current.open();
      return current;
    }

    async function restart(): Promise<{ s: Storage; initial: Awaited<ReturnType<Storage["open"]>> }> {
      await current!.close();
      current = await fixture!.reopen();
      const initial = await current.open();
      return { s: current, initial };
    }

    afterEach(async () => {
      try {
        await current?.close();
      } catch {
        // already closed
      }
      await fixture?.dispose?.();
      fixture = undefined;
      current = undefined;
    });

    test("an empty log", async () => {
      const s = await fresh();
      expect(await s.firstIndex()).toBe(1);
      expect(await s.lastIndex()).toBe(0);
      expect(await s.term(0)).toBe(0);
      expect(await s.term(1)).toBeUndefined();
      expect(await s.entries(1, 1)).toEqual([]);
      expect(await s.snapshot()).toBeUndefined();
      const { initial } = await restart();
      expect(initial).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, entries: [] });
    });

    test("append and read ranges", async () => {
      const s = await fresh();
      const es = makeEntries(1, 10, 1);
      await s.append(es.slice(0, 4));
      await s.append(es.slice(4));
      expect(await s.firstIndex()).toBe(1);
      expect(await s.lastIndex()).toBe(10);
      expect(await s.entries(1, 11)).toEqual(es);
      expect(await s.entries(3, 6)).toEqual(es.slice(2, 5));
      expect(await s.entries(10, 11)).toEqual([es[9]]);
      expect(await s.entries(5, 5)).toEqual([]);
      await expectCode(s.entries(5, 12), "Invalid");
      await expectCode(s.entries(6, 5), "Invalid");
      await s.append([]);
      expect(await s.lastIndex()).toBe(10);
    });

    test("entry type and empty data survive", async () => {
      const s = await fresh();
      const es: Entry[] = [
        { index: 1, term: 1, type: "normal", data: new Uint8Array(0) },
        { index: 2, term: 1, type: "confChange", data: new Uint8Array([1, 2, 3]) },
      ];
      await s.append(es);
      expect(await s.entries(1, 3)).toEqual(es);
      const { initial } = await restart();
      expect(initial.entries).toEqual(es);
    });

    test("a conflicting append replaces the suffix", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 6, 1));
      await s.append(makeEntries(3, 4, 2));
      expect(await s.lastIndex()).toBe(4);
      expect(await s.entries(1, 5)).toEqual([...makeEntries(1, 2, 1), ...makeEntries(3, 4, 2)]);
      // Appending right after the end, then overwriting the very last entry.
      await s.append(makeEntries(5, 5, 2));
      await s.append(makeEntries(5, 7, 3));
      const want = [...makeEntries(1, 2, 1), ...makeEntries(3, 4, 2), ...makeEntries(5, 7, 3)];
      expect(await s.entries(1, 8)).toEqual(want);
      const { s: s2, initial } = await restart();
      expect(initial.entries).toEqual(want);
      expect(await s2.lastIndex()).toBe(7);
      // Overwrite from the very first entry.
      await s2.append(makeEntries(1, 2, 4));
      expect(await s2.entries(1, 3)).toEqual(makeEntries(1, 2, 4));
      expect((await restart()).initial.entries).toEqual(makeEntries(1, 2, 4));
    });

    test("an append with a gap or a non-contiguous batch is refused and changes nothing", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 3, 1));
      await expectCode(s.append(makeEntries(5, 6, 1)), "Invalid");
      const broken = [...makeEntries(4, 4, 1), ...makeEntries(6, 6, 1)];
      await expectCode(s.append(broken), "Invalid");
      expect(await s.lastIndex()).toBe(3);
      expect((await restart()).initial.entries).toEqual(makeEntries(1, 3, 1));
    });

    test("truncateSuffix removes entries from an index on, durably", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 8, 1));
      await s.truncateSuffix(6);
      expect(await s.lastIndex()).toBe(5);
      expect(await s.term(6)).toBeUndefined();
      await s.truncateSuffix(9); // past the end: nothing to do
      expect(await s.lastIndex()).toBe(5);
      const { s: s2, initial } = await restart();
      expect(initial.entries).toEqual(makeEntries(1, 5, 1));
      await s2.append(makeEntries(6, 6, 2));
      expect(await s2.entries(5, 7)).toEqual([...makeEntries(5, 5, 1), ...makeEntries(6, 6, 2)]);
      await s2.truncateSuffix(1);
      expect(await s2.lastIndex()).toBe(0);
      expect((await restart()).initial.entries).toEqual([]);
    });

    test("term at an index, including the snapshot index", async () => {
      const s = await fresh();
      await s.append([...makeEntries(1, 3, 1), ...makeEntries(4, 6, 2)]);
      expect(await s.term(1)).toBe(1);
      expect(await s.term(4)).toBe(2);
      expect(await s.term(6)).toBe(2);
      expect(await s.term(7)).toBeUndefined();
      await s.saveSnapshot(snap(4, 2));
      expect(await s.term(4)).toBe(2);
      expect(await s.term(3)).toBeUndefined();
      expect(await s.term(5)).toBe(2);
      const { s: s2 } = await restart();
      expect(await s2.term(4)).toBe(2);
      expect(await s2.term(5)).toBe(2);
    });

    test("hard state persists across reopen", async () => {
      const s = await fresh();
      await s.setHardState({ term: 3, vote: 2, commit: 0 });
      await s.setHardState({ term: 5, vote: 1, commit: 7 });
      const { s: s2, initial } = await restart();
      expect(initial.hardState).toEqual({ term: 5, vote: 1, commit: 7 });
      await s2.setHardState({ term: 6, vote: 0, commit: 9 });
      expect((await restart()).initial.hardState).toEqual({ term: 6, vote: 0, commit: 9 });
    });

    test("the cluster id persists across reopen, beside the log; a malformed one is refused", async () => {
      await fresh();
      const { s, initial: before } = await restart();
      expect(before.clusterId).toBeUndefined();
      await s.append(makeEntries(1, 2, 1));
      await s.setClusterId!("0123456789abcdef");
      await expect(s.setClusterId!("not a cluster id")).rejects.toMatchObject({ code: "Invalid" });
      await s.setHardState({ term: 1, vote: 1, commit: 2 });
      const { initial } = await restart();
      expect(initial.clusterId).toBe("0123456789abcdef");
      expect(initial.entries.map((e) => e.index)).toEqual([1, 2]);
      expect(initial.hardState).toEqual({ term: 1, vote: 1, commit: 2 });
    });

    test("a snapshot that does not match the log drops every entry", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 10, 1));
      await s.saveSnapshot(snap(5, 2));
      expect(await s.firstIndex()).toBe(6);
      expect(await s.lastIndex()).toBe(5);
      expect(await s.snapshot()).toEqual(snap(5, 2));
      await s.append(makeEntries(6, 7, 2));
      expect(await s.entries(6, 8)).toEqual(makeEntries(6, 7, 2));
      const { initial } = await restart();
      expect(initial.snapshot).toEqual(snap(5, 2));
      expect(initial.entries).toEqual(makeEntries(6, 7, 2));
    });

    test("a snapshot matching the log keeps the suffix after it", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 10, 1));
      await s.saveSnapshot(snap(6, 1, new Uint8Array([1, 2])));
      expect(await s.firstIndex()).toBe(7);
      expect(await s.lastIndex()).toBe(10);
      expect(await s.entries(7, 11)).toEqual(makeEntries(7, 10, 1));
      const { s: s2, initial } = await restart();
      expect(initial.snapshot).toEqual(snap(6, 1, new Uint8Array([1, 2])));
      expect(initial.entries).toEqual(makeEntries(7, 10, 1));
      expect(await s2.firstIndex()).toBe(7);
      expect(await s2.lastIndex()).toBe(10);
      // A later snapshot replaces the earlier one; an older one changes nothing.
      await s2.saveSnapshot(snap(8, 1, new Uint8Array([3])));
      await s2.saveSnapshot(snap(7, 1, new Uint8Array([4])));
      expect((await s2.snapshot())!.data).toEqual(new Uint8Array([3]));
      const again = (await restart()).initial;
      expect(again.snapshot).toEqual(snap(8, 1, new Uint8Array([3])));
      expect(again.entries).toEqual(makeEntries(9, 10, 1));
    });

    test("saving the same snapshot again keeps the log after it", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 6, 1));
      await s.saveSnapshot(snap(3, 1));
      await s.saveSnapshot(snap(3, 1));
      expect(await s.firstIndex()).toBe(4);
      expect(await s.entries(4, 7)).toEqual(makeEntries(4, 6, 1));
      expect((await restart()).initial.entries).toEqual(makeEntries(4, 6, 1));
    });

    test("a snapshot past the end of the log empties it", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 3, 1));
      await s.saveSnapshot(snap(20, 4));
      expect(await s.firstIndex()).toBe(21);
      expect(await s.lastIndex()).toBe(20);
      expect(await s.term(20)).toBe(4);
      await expectCode(s.append(makeEntries(23, 23, 4)), "Invalid");
      await s.append(makeEntries(21, 22, 4));
      const { s: s2, initial } = await restart();
      expect(initial.entries).toEqual(makeEntries(21, 22, 4));
      expect(await s2.firstIndex()).toBe(21);
    });

    test("an append overlapping the snapshot skips what the snapshot covers", async () => {
      const s = await fresh();
      await s.saveSnapshot(snap(5, 1));
      await s.append(makeEntries(3, 8, 1));
      expect(await s.firstIndex()).toBe(6);
      expect(await s.entries(6, 9)).toEqual(makeEntries(6, 8, 1));
    });

    test("compact drops entries below an index covered by the snapshot", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 10, 1));
      await s.saveSnapshot(snap(6, 1));
      await s.compact(3); // already gone: nothing to do
      await s.compact(7);
      expect(await s.firstIndex()).toBe(7);
      await expectCode(s.compact(9), "Invalid"); // not covered by a snapshot
      expect(await s.firstIndex()).toBe(7);
      expect(await s.entries(7, 11)).toEqual(makeEntries(7, 10, 1));
      expect((await restart()).initial.entries).toEqual(makeEntries(7, 10, 1));
    });

    test("reading a compacted range throws NotFound", async () => {
      const s = await fresh();
      await s.append(makeEntries(1, 10, 1));
      await s.saveSnapshot(snap(4, 1));
      await expectCode(s.entries(4, 6), "NotFound");
      await expectCode(s.entries(1, 2), "NotFound");
      expect(await s.entries(5, 6)).toEqual(makeEntries(5, 5, 1));
      const { s: s2 } = await restart();
      await expectCode(s2.entries(2, 6), "NotFound");
    });

    test("reopen returns the same initial state after a mix of operations", async () => {
      const s = await fresh();
      await s.setHardState({ term: 1, vote: 1, commit: 0 });
      await s.append(makeEntries(1, 20, 1));
      await s.setHardState({ term: 2, vote: 3, commit: 12 });
      await s.append(makeEntries(15, 25, 2));
      await s.truncateSuffix(24);
      await s.saveSnapshot(snap(12, 1, new Uint8Array(300).fill(5)));
      await s.compact(13);
      await s.append(makeEntries(24, 30, 3));
      const want = {
        hardState: { term: 2, vote: 3, commit: 12 },
        snapshot: snap(12, 1, new Uint8Array(300).fill(5)),
        entries: [...makeEntries(13, 14, 1), ...makeEntries(15, 23, 2), ...makeEntries(24, 30, 3)],
      };
      const { s: s2, initial } = await restart();
      expect(initial).toEqual(want);
      expect(await s2.firstIndex()).toBe(13);
      expect(await s2.lastIndex()).toBe(30);
      expect(await s2.entries(13, 31)).toEqual(want.entries);
      expect((await restart()).initial).toEqual(want);
    });

    test("large entries and a large snapshot", async () => {
      const s = await fresh();
      const big = makeEntries(1, 3, 1, 3 << 20);
      await s.append(big);
      const many = makeEntries(4, 203, 1, 20_000);
      await s.append(many);
      const bigSnap = snap(2, 1, new Uint8Array(5 << 20).map((_, i) => i % 251));
      await s.saveSnapshot(bigSnap);
      const { s: s2, initial } = await restart();
      expect(initial.snapshot!.data.length).toBe(5 << 20);
      expect(initial.snapshot).toEqual(bigSnap);
      expect(initial.entries.length).toBe(201);
      expect(initial.entries[0]).toEqual(big[2]);
      expect(await s2.entries(100, 104)).toEqual(many.slice(96, 100));
    });

    test("returned entries are copies: mutating them changes nothing stored", async () => {
      const s = await fresh();
      const es = makeEntries(1, 2, 1);
      await s.append(es);
      es[0].data[0] ^= 0xff;
      const got = await s.entries(1, 2);
      expect(got).toEqual(makeEntries(1, 1, 1));
      got[0].data[1] ^= 0xff;
      expect(await s.entries(1, 2)).toEqual(makeEntries(1, 1, 1));
    });

    test("random operations match the in-memory model, across reopens", async () => {
      const seed = Number(process.env.STORAGE_SEED ?? 20261127);
      const rng = seededRandom(seed);
      let s = await fresh();
      const model = new MemoryStorage();
      await model.open();
      let term = 1;
      let step = 0;
      try {
        for (step = 0; step < 150; step++) {
          const first = await model.firstIndex();
          const last = await model.lastIndex();
          const roll = rng.int(100);
          if (roll < 50) {
            // Mostly extend the log; sometimes overwrite a suffix with a newer term.
            const from = rng.chance(0.7) || last < first ? last + 1 : first + rng.int(last - first + 1);
            if (from <= last) term++;
            const es = makeEntries(from, from + rng.int(6), term, 1 + rng.int(300));
            await model.append(es);
            await s.append(es);
          } else if (roll < 60) {
            const from = first + rng.int(Math.max(1, last - first + 2));
            await model.truncateSuffix(from);
            await s.truncateSuffix(from);
          } else if (roll < 72) {
            const hs = { term, vote: rng.int(4), commit: rng.int(last + 1) };
            await model.setHardState(hs);
            await s.setHardState(hs);
          } else if (roll < 82) {
            const snapIndex = first - 1 + rng.int(Math.max(1, last - first + 4));
            const known = await model.term(snapIndex);
            const sn = snap(snapIndex, known !== undefined && rng.chance(0.7) ? known : term + 1, new Uint8Array([step & 0xff]));
            await model.saveSnapshot(sn);
            await s.saveSnapshot(sn);
          } else if (roll < 87) {
            await model.compact(first);
            await s.compact(first);
          } else {
            ({ s } = await restart());
          }
          const f = await model.firstIndex();
          const l = await model.lastIndex();
          expect(await s.firstIndex()).toBe(f);
          expect(await s.lastIndex()).toBe(l);
          expect(await s.entries(f, l + 1)).toEqual(await model.entries(f, l + 1));
          expect(await s.snapshot()).toEqual(await model.snapshot());
        }
        const { initial } = await restart();
        expect(initial).toEqual(await model.clone().open());
      } catch (e) {
        console.log(`storage conformance (${name}): random operations failed at step ${step}; seed ${seed} (set STORAGE_SEED to replay)`);
        throw e;
      }
    });

    test("many small appends, then more after a reopen", async () => {
      const s = await fresh();
      for (let i = 1; i <= 200; i++) await s.append(makeEntries(i, i, 1 + (i >> 6)));
      const { s: s2 } = await restart();
      expect(await s2.lastIndex()).toBe(200);
      await s2.append(makeEntries(201, 210, 9));
      const { initial } = await restart();
      expect(initial.entries.length).toBe(210);
      expect(initial.entries[209]).toEqual(makeEntries(210, 210, 9)[0]);
      expect(initial.entries[100]).toEqual(makeEntries(101, 101, 2)[0]);
    });
  });
}
