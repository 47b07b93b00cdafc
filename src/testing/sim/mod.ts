// The deterministic simulator: re-exports only.
export { SimCluster, simConfig, type SimClusterOptions } from "./sim-cluster.ts";
export type { ProposeOutcome, ReadOutcome } from "./client-gateway.ts";
export { SimNode, LogMirror } from "./sim-node.ts";
export { SimDisk, type DiskWrite, type DurableState } from "./sim-disk.ts";
export { SimNetwork, reliableNetwork, unreliableNetwork, type NetworkOptions } from "./sim-network.ts";
export { EventQueue } from "./event-queue.ts";
export { InvariantLedger, InvariantViolation, type InvariantName } from "./invariants.ts";
export { KvStateMachine, encodeCommand, decodeCommand, type KvCommand, type KvResult } from "./kv-state-machine.ts";
export { KvWorkload, defaultWorkload, type WorkloadOptions } from "./workload.ts";
export { FaultInjector, PROFILES, type FaultProfile } from "./faults.ts";
export { runSeed, type RunOptions, type SeedResult } from "./run-seed.ts";
export { checkNoLeader, checkOneLeader, checkTerms, cmdKey, electionMs, nCommitted, one, start } from "./lab.ts";
