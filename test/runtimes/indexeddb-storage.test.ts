import "fake-indexeddb/auto";
import { expect, test } from "bun:test";
import { indexedDbStorage } from "../../runtimes/browser/indexeddb-storage.ts";
import { makeEntries, runStorageConformance } from "../../src/testing/conformance/storage.ts";

let n = 0;
runStorageConformance("indexeddb (fake-indexeddb)", () => {
  const name = `streambus-test-${n++}`;
  return {
    storage: indexedDbStorage(name),
    reopen: () => indexedDbStorage(name),
    dispose: () => void indexedDB.deleteDatabase(name),
  };
});

test("every read-write transaction asks for strict durability", async () => {
  const seen: (string | undefined)[] = [];
  const original = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, names, mode, opts) {
    if (mode === "readwrite") seen.push(opts?.durability);
    return original.call(this, names, mode, opts);
  } as typeof original;
  try {
    const s = indexedDbStorage("streambus-strict");
    await s.open();
    await s.append(makeEntries(1, 3, 1));
    await s.setHardState({ term: 1, vote: 1, commit: 3 });
    await s.close();
  } finally {
    IDBDatabase.prototype.transaction = original;
  }
  expect(seen.length).toBe(2);
  expect(seen.every((d) => d === "strict")).toBe(true);
});

test("concurrent mutations share one transaction (group commit)", async () => {
  const s = indexedDbStorage("streambus-group");
  await s.open();
  const all = makeEntries(1, 64, 1);
  await Promise.all([...all.map((e) => s.append([e])), s.setHardState({ term: 1, vote: 0, commit: 10 })]);
  expect(s.stats.mutations).toBe(65);
  expect(s.stats.transactions).toBeLessThanOrEqual(2);
  await s.close();
  const again = indexedDbStorage("streambus-group");
  const initial = await again.open();
  expect(initial.entries).toEqual(all);
  expect(initial.hardState).toEqual({ term: 1, vote: 0, commit: 10 });
  await again.close();
});

test("truncating the log keeps the hard state and snapshot", async () => {
  const s = indexedDbStorage("streambus-keys");
  await s.open();
  await s.setHardState({ term: 4, vote: 2, commit: 1 });
  await s.append(makeEntries(1, 5, 4));
  await s.append(makeEntries(3, 3, 5));
  await s.close();
  const again = indexedDbStorage("streambus-keys");
  expect((await again.open()).hardState).toEqual({ term: 4, vote: 2, commit: 1 });
  await again.close();
});
