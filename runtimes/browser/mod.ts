/**
 * StreamBus ports for the browser. Re-exports only. (Other helpers may add a browser transport below.)
 */
export { IndexedDbStorage, indexedDbStorage, type IndexedDbStorageOptions, type LockManagerLike } from "./indexeddb-storage.ts";
