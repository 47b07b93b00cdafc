/**
 * Raft storage in the browser's IndexedDB, through idb-keyval with a custom store whose read-write
 * transactions ask for `durability: "strict"`: a transaction completes only once the browser has
 * flushed it to persistent storage (the default, "relaxed" in Chrome, completes before the flush).
 *
 * One object store holds the hard state (key "hardState"), the snapshot (key "snapshot"), the cluster id
 * (key "clusterId") and one record
 * per log entry (key: its index, a number). Every mutation is one transaction, so it lands whole or not
 * at all; queued mutations share one transaction (group commit). Reads are served from memory.
 *
 * While open, the storage holds a Web Lock (navigator.locks) named after the database, so a second tab or
 * worker opening the same database is refused instead of interleaving its writes with the first one's
 * (the browser's counterpart of the file storage's LOCK file). Where Web Locks are missing, nothing guards.
 */
import { getMany, promisifyRequest, type UseStore } from "idb-keyval";
import { StreamBusError } from "../../src/errors.ts";
import type { Storage } from "../../src/ports/storage.ts";
import { checkClusterId, storedClusterId } from "../../src/raft/cluster-id.ts";
import type { Entry, HardState, InitialState, Snapshot } from "../../src/raft/types.ts";
import { checkCompact, copyEntry, copySnapshot, entriesToAppend } from "../../src/storage/log-rules.ts";
import { MirroredLogStorage } from "../../src/storage/mirrored-log.ts";

const STORE = "raft";

interface StoredEntry {
  term: number;
  type: Entry["type"];
  data: Uint8Array;
}

type Op = { put: IDBValidKey; value: unknown } | { del: IDBKeyRange };

/** Entry keys from `lo` on. Bounded above: an open range would also take the string keys, which sort after numbers. */
const keysFrom = (lo: number) => IDBKeyRange.bound(lo, Infinity);

/** Opens `dbName` (creating its object store) and returns an idb-keyval store using strict durability. */
function strictStore(dbName: string): { use: UseStore; close(): Promise<void> } {
  let dbp: Promise<IDBDatabase> | undefined;
  const getDB = () => {
    if (!dbp) {
      const request = indexedDB.open(dbName, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      dbp = promisifyRequest(request);
      dbp.then(
        (db) => {
          db.onclose = () => (dbp = undefined);
          // Another tab deleting or upgrading the database: let it proceed; this storage then fails loudly.
          db.onversionchange = () => db.close();
        },
        () => (dbp = undefined),
      );
    }
    return dbp;
  };
  const use: UseStore = (mode, callback) =>
    getDB().then((db) => callback(db.transaction(STORE, mode, { durability: "strict" }).objectStore(STORE)));
  return {
    use,
    async close() {
      const p = dbp;
      dbp = undefined;
      if (p) (await p.catch(() => undefined))?.close();
    },
  };
}

/** The part of the Web Locks API (`navigator.locks`) the storage uses. */
export interface LockManagerLike {
  request(name: string, options: { ifAvailable: true }, callback: (lock: unknown) => Promise<void> | void): Promise<unknown>;
}

export interface IndexedDbStorageOptions {
  /** Where to take the database's lock (default: `navigator.locks` if present); null guards nothing. */
  locks?: LockManagerLike | null;
}

/** Takes the Web Lock `name` if no one holds it; resolves with its release, or rejects with `busy()`. */
function takeLock(locks: LockManagerLike, name: string, busy: () => Error): Promise<() => void> {
  return new Promise((resolve, reject) => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    locks.request(name, { ifAvailable: true }, (lock) => {
      if (!lock) return reject(busy());
      resolve(release);
      return held; // the lock is kept until this settles
    }).catch(reject);
  });
}

/** IndexedDB-backed Storage; see the module comment. */
export class IndexedDbStorage extends MirroredLogStorage implements Storage {
  private store?: ReturnType<typeof strictStore>;
  private unlock: (() => void) | undefined;
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private pending: { ops: Op[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing?: Promise<void>;
  private failure?: unknown;
  /** Transactions committed, for tests and benchmarks (group commit shows as fewer than mutations). */
  readonly stats = { mutations: 0, transactions: 0 };

  constructor(readonly name: string, private readonly opts: IndexedDbStorageOptions = {}) {
    super();
  }

  async open(): Promise<InitialState> {
    if (typeof indexedDB === "undefined") {
      throw new StreamBusError("Unavailable", "IndexedDB is not available in this environment");
    }
    await this.close();
    this.failure = undefined;
    const locks = this.opts.locks === undefined ? (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks : this.opts.locks;
    if (locks) {
      this.unlock = await takeLock(locks, `streambus-indexeddb:${this.name}`, () => new StreamBusError(
        "Unavailable",
        `IndexedDB "${this.name}" is in use by another tab or worker: two nodes must never share one database`,
        { name: this.name },
      ));
    }
    this.store = strictStore(this.name);
    let clusterId: string | undefined;
    try {
      const [hard, snap, storedId] = await getMany<unknown>(["hardState", "snapshot", "clusterId"], this.store.use);
      if (storedId !== undefined) clusterId = storedClusterId(storedId, `IndexedDB "${this.name}"`);
      // Only the number keys (log entries), in key order; the snapshot was read above.
      const [keys, values] = await this.store.use("readonly", (store) =>
        Promise.all([promisifyRequest(store.getAllKeys(keysFrom(-Infinity))), promisifyRequest(store.getAll(keysFrom(-Infinity)))]),
      );
      const stored = keys.map((k, i) => [k, values[i] as StoredEntry] as const);
      this.hard = hard ? { ...(hard as HardState) } : { term: 0, vote: 0, commit: 0 };
      this.snap = snap as Snapshot | undefined;
      this.first = this.snap ? this.snap.meta.index + 1 : 1;
      this.log = [];
      for (const [k, v] of stored) {
        const index = k as number;
        if (index < this.first) continue; // covered by the snapshot; a later write deletes it
        if (index !== this.first + this.log.length) {
          throw new StreamBusError("Corrupt", `IndexedDB "${this.name}": log entry ${index} follows a gap (expected ${this.first + this.log.length})`);
        }
        this.log.push({ index, term: v.term, type: v.type, data: v.data });
      }
    } catch (e) {
      await this.close();
      if (e instanceof StreamBusError) throw e;
      throw new StreamBusError("Unavailable", `IndexedDB "${this.name}" could not be read: ${String(e)}`);
    }
    return this.initialState(this.hard, clusterId);
  }

  async setClusterId(id: string): Promise<void> {
    this.check();
    return this.commit([{ put: "clusterId", value: checkClusterId(id) }]);
  }

  async append(entries: Entry[]): Promise<void> {
    this.check();
    const keep = entriesToAppend(entries, this.first, this.last());
    if (keep.length === 0) return;
    const ops: Op[] = [];
    if (keep[0].index <= this.last()) {
      ops.push({ del: keysFrom(keep[0].index) });
      this.log.length = keep[0].index - this.first;
    }
    for (const e of keep) {
      const copy = copyEntry(e);
      this.log.push(copy);
      ops.push({ put: e.index, value: { term: e.term, type: e.type, data: copy.data } satisfies StoredEntry });
    }
    return this.commit(ops);
  }

  async truncateSuffix(fromIndex: number): Promise<void> {
    this.check();
    const from = Math.max(fromIndex, this.first);
    if (from > this.last()) return;
    this.log.length = from - this.first;
    return this.commit([{ del: keysFrom(from) }]);
  }

  async setHardState(state: HardState): Promise<void> {
    this.check();
    this.hard = { term: state.term, vote: state.vote, commit: state.commit };
    return this.commit([{ put: "hardState", value: { ...this.hard } }]);
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.check();
    const { index, term } = snapshot.meta;
    if (this.snap && index < this.snap.meta.index) return;
    const matches = this.termAt(index) === term;
    this.snap = copySnapshot(snapshot);
    const ops: Op[] = [{ put: "snapshot", value: this.snap }];
    if (matches) {
      this.log = this.log.slice(Math.max(0, index + 1 - this.first));
      ops.push({ del: IDBKeyRange.upperBound(index) });
    } else {
      this.log = [];
      ops.push({ del: keysFrom(-Infinity) });
    }
    this.first = index + 1;
    return this.commit(ops);
  }

  async compact(compactIndex: number): Promise<void> {
    this.check();
    if (compactIndex <= this.first) return;
    checkCompact(compactIndex, this.snap, this.last());
    this.log = this.log.slice(compactIndex - this.first);
    this.first = compactIndex;
    return this.commit([{ del: IDBKeyRange.upperBound(compactIndex, true) }]);
  }

  async close(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    if (store) {
      while (this.writing) await this.writing;
      await store.close();
    }
    this.unlock?.();
    this.unlock = undefined;
  }

  protected check(): void {
    if (!this.store) throw new StreamBusError("Unavailable", `IndexedDB storage "${this.name}" is not open`);
    if (this.failure !== undefined) {
      throw new StreamBusError("Unavailable", `IndexedDB storage "${this.name}" failed a write and must be reopened: ${String(this.failure)}`);
    }
  }

  /** Queues `ops`; every queued mutation goes out in one strict transaction. Resolves once it completed. */
  private commit(ops: Op[]): Promise<void> {
    this.stats.mutations++;
    const done = new Promise<void>((resolve, reject) => this.pending.push({ ops, resolve, reject }));
    if (!this.writing) this.writing = this.drain();
    return done;
  }

  private async drain(): Promise<void> {
    const use = this.store!.use;
    await null; // let mutations issued in the same tick join the first transaction
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      try {
        if (this.failure !== undefined) throw this.failure;
        await use("readwrite", (store) => {
          for (const b of batch) {
            for (const op of b.ops) {
              if ("put" in op) store.put(op.value, op.put);
              else store.delete(op.del);
            }
          }
          return promisifyRequest(store.transaction);
        });
        this.stats.transactions++;
        for (const b of batch) b.resolve();
      } catch (e) {
        this.failure ??= e;
        const err = new StreamBusError("Unavailable", `IndexedDB storage "${this.name}": write failed: ${String(e)}`);
        for (const b of batch) b.reject(err);
      }
    }
    this.writing = undefined;
  }
}

/**
 * Durable Raft storage in the IndexedDB database `name` (browsers; strict-durability transactions).
 *
 * @example
 * const storage = indexedDbStorage("streambus-node-1");
 * const initial = await storage.open();
 */
export function indexedDbStorage(name: string, opts?: IndexedDbStorageOptions): IndexedDbStorage {
  return new IndexedDbStorage(name, opts);
}
