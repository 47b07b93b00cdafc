/** In-memory ports and test tools (web standards only; conformance suites import bun:test, so they are not here). */
export { MemoryStorage, memoryStorage } from "./memory-storage.ts";
export { MemoryNetwork, MemoryTransport } from "./memory-transport.ts";
export { ManualClock } from "./manual-clock.ts";
export { checkLinearizability, kvModel, type Model, type Operation } from "./linearizability.ts";
