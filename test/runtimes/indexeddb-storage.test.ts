import "fake-indexeddb/auto";
import { expect, test } from "bun:test";
import { indexedDbStorage, type LockManagerLike } from "../../runtimes/browser/indexeddb-storage.ts";
import { isStreamBusError } from "../../src/errors.ts";
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

/** Changes a storage's database behind its back, in one transaction. */
function tamper(name: string, change: (store: IDBObjectStore) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onsuccess = () => {
      const tx = req.result.transaction("raft", "readwrite");
      change(tx.objectStore("raft"));
      tx.oncomplete = () => (req.result.close(), resolve());
      tx.onerror = () => reject(tx.error);
    };
    req.onerror = () => reject(req.error);
  });
}

/** Web Locks as browsers grant them with ifAvailable: a held name gives the callback null. */
class FakeLocks implements LockManagerLike {
  readonly held = new Set<string>();
  async request(name: string, _opts: { ifAvailable: true }, callback: (lock: unknown) => Promise<void> | void): Promise<unknown> {
    if (this.held.has(name)) return callback(null);
    this.held.add(name);
    try {
      return await callback({ name });
    } finally {
      this.held.delete(name);
    }
  }
}

const locks = new FakeLocks();
runStorageConformance("indexeddb (fake-indexeddb, Web Locks)", () => {
  const name = `streambus-locked-${n++}`;
  return {
    storage: indexedDbStorage(name, { locks }),
    reopen: () => indexedDbStorage(name, { locks }),
    dispose: () => void indexedDB.deleteDatabase(name),
  };
});

test("a database open in one tab is refused to another until the first closes; a failed open lets it go", async () => {
  const tabs = new FakeLocks();
  const first = indexedDbStorage("streambus-tabs", { locks: tabs });
  await first.open();
  await first.append(makeEntries(1, 2, 1));
  const second = indexedDbStorage("streambus-tabs", { locks: tabs });
  const err = await second.open().then(() => undefined, (e) => e);
  expect(isStreamBusError(err, "Unavailable")).toBe(true);
  expect((err as Error).message).toContain("in use by another tab");
  expect((await first.entries(1, 3)).length).toBe(2); // the first is unaffected
  await first.close();
  expect(tabs.held.size).toBe(0);
  expect((await second.open()).entries.length).toBe(2);
  await second.close();

  // A database that fails to open (a gap in the log) does not keep the lock.
  const broken = indexedDbStorage("streambus-tabs", { locks: tabs });
  await broken.open();
  await broken.append(makeEntries(1, 4, 1));
  await broken.close();
  await tamper("streambus-tabs", (store) => store.delete(2));
  const corrupt = await indexedDbStorage("streambus-tabs", { locks: tabs }).open().then(() => undefined, (e) => e);
  expect(isStreamBusError(corrupt, "Corrupt")).toBe(true);
  expect(tabs.held.size).toBe(0);
});

test("a stored cluster id that is not one makes open fail with Corrupt", async () => {
  const s = indexedDbStorage("streambus-bad-cluster");
  await s.open();
  await s.setClusterId("0123456789abcdef");
  await s.close();
  await tamper("streambus-bad-cluster", (store) => store.put({ not: "an id" }, "clusterId"));
  const err = await indexedDbStorage("streambus-bad-cluster").open().then(() => undefined, (e) => e);
  expect(isStreamBusError(err, "Corrupt")).toBe(true);
  expect((err as Error).message).toContain("cluster id");
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
