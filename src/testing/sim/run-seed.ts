/**
 * One simulator run: a seed picks a fault mix, a cluster size and timings; clients run the key-value
 * workload while faults are injected; then the faults heal, the cluster must make progress again
 * (liveness), and the history must be linearizable. Invariants are checked after every event.
 *
 * @example
 * const r = runSeed(42);
 * if (!r.ok) console.log(r.report); // names the seed, the invariant and the step
 */
import type { RaftConfig } from "../../raft/types.ts";
import { type Random, seededRandom } from "../../rng.ts";
import { checkLinearizability, kvModel } from "../linearizability.ts";
import { InvariantViolation } from "./invariants.ts";
import { encodeCommand } from "./kv-state-machine.ts";
import { SimCluster, simConfig } from "./sim-cluster.ts";
import { FaultInjector, PROFILES } from "./faults.ts";
import { KvWorkload } from "./workload.ts";

export interface RunOptions {
  /** Simulated ms of workload and faults (default 3000). */
  durationMs?: number;
  /** Event budget (the `--steps` flag). */
  maxEvents?: number;
  /** Force a profile by name. */
  profile?: string;
  /** Cluster size (default: 3 or 5 by seed). */
  nodes?: number;
  /** Raft config overrides (default: flow-control and snapshot knobs varied by seed). */
  config?: Partial<RaftConfig>;
}

export interface SeedResult {
  seed: number;
  ok: boolean;
  profile: string;
  nodes: number;
  /** The Raft config knobs this seed varied. */
  config: Partial<RaftConfig>;
  invariant?: string;
  detail?: string;
  /** Event number and simulated time of the failure. */
  step?: number;
  time?: number;
  events: number;
  ops: { completed: number; unknown: number; failed: number };
  committed: number;
  /** The linearizability search ran out of budget (the history was not fully checked). */
  checkTimedOut: boolean;
  /** Search steps the checker took. */
  checkSteps: number;
  /** Human-readable failure report (empty when ok). */
  report: string;
}

/** Runs one seed; never throws for a failure of the system under test (it is reported). */
export function runSeed(seed: number, options: RunOptions = {}): SeedResult {
  const pick = seededRandom(seed ^ 0x5eed);
  const profile = options.profile
    ? PROFILES.find((p) => p.name === options.profile) ?? PROFILES[0]!
    : PROFILES[pick.int(PROFILES.length)]!;
  const nodes = options.nodes ?? (pick.chance(0.6) ? 3 : 5);
  const duration = options.durationMs ?? 3000;
  const shape = { keys: 2 + pick.int(3), clients: 3 + pick.int(3) };
  const config = options.config ?? varyConfig(pick);
  const cluster = new SimCluster({
    seed, nodes, network: profile.network, snapshotEvery: profile.snapshotEvery, maxEvents: options.maxEvents,
    wireCodec: profile.wireCodec, tickSkew: profile.tickSkew, config: { ...simConfig, ...config },
  });
  for (let i = 1; i <= (profile.spares ?? 0); i++) cluster.addServer(nodes + i, false);
  const workload = new KvWorkload(cluster, cluster.random.fork(), shape);
  const result: SeedResult = {
    seed, ok: true, profile: profile.name, nodes, config, events: 0, ops: { completed: 0, unknown: 0, failed: 0 }, committed: 0,
    checkTimedOut: false, checkSteps: 0, report: "",
  };
  try {
    workload.start(duration);
    const faults = new FaultInjector(cluster, cluster.random.fork(), profile);
    faults.start(duration);
    cluster.runFor(duration);
    faults.healAll();
    // Let in-flight operations finish or time out, then demand progress.
    cluster.runFor(workload.options.opTimeout + 10);
    checkLiveness(cluster);
    const lin = checkLinearizability(kvModel, workload.history, { maxSteps: 2_000_000 });
    result.checkTimedOut = lin.timedOut;
    result.checkSteps = lin.steps;
    if (!lin.ok) {
      throw new InvariantViolation("linearizability", lin.failures.map((f) => f.description).join("\n"));
    }
  } catch (e) {
    result.ok = false;
    result.step = cluster.events;
    result.time = cluster.now;
    if (e instanceof InvariantViolation) {
      result.invariant = e.invariant;
      result.detail = e.detail;
    } else {
      result.invariant = "crash";
      result.detail = e instanceof Error ? e.stack ?? e.message : String(e);
    }
    result.report =
      `seed ${seed} FAILED: ${result.invariant} at step ${result.step} (t=${result.time}ms), profile ${profile.name}, ${nodes} nodes\n` +
      `  config ${JSON.stringify(config)}\n` +
      `  ${result.detail}\n  replay: npx bun scripts/sim.ts --seed ${seed}`;
  }
  result.events = cluster.events;
  result.ops = { completed: workload.completed, unknown: workload.unknown, failed: workload.failed };
  result.committed = cluster.ledger.applied.length - 1;
  return result;
}

/** Flow control, batching, snapshot chunking and election options vary by seed; safety must hold for all. */
function varyConfig(pick: Random): Partial<RaftConfig> {
  const of = <T>(xs: T[]): T => xs[pick.int(xs.length)]!;
  const guards = pick.chance(0.85);
  return {
    maxAppendEntries: of([1, 4, 16, 64]),
    maxInflightMsgs: of([1, 4, 16]),
    snapshotChunkSize: of([16, 64, 256, 4096]),
    compactionOverhead: of([0, 2, 5, 20]),
    preVote: guards || pick.chance(0.5),
    checkQuorum: guards || pick.chance(0.5),
    maxUncommittedSize: of([0, 0, 0, 512]),
  };
}

/** After healing, a write must commit within a bounded time. */
function checkLiveness(cluster: SimCluster): void {
  let done = false;
  const deadline = cluster.now + 40 * 100;
  let seq = 0;
  const attempt = () => {
    if (done || cluster.now > deadline) return;
    const leader = cluster.leaders().sort((a, b) => b.term - a.term)[0];
    const target = leader?.id ?? cluster.ids()[0]!;
    const s = ++seq;
    cluster.propose(target, encodeCommand({ c: 1_000_000, s, op: "put", k: "probe", v: String(s) }), (r) => {
      if (r.ok) done = true;
    });
    cluster.queue.after(300, () => {
      cluster.forget(1_000_000, s);
      attempt();
    });
  };
  attempt();
  if (!cluster.runUntil(() => done, deadline - cluster.now)) {
    const st = cluster.ids().map((id) => {
      const n = cluster.node(id);
      return n.up ? JSON.stringify(n.raw!.status()) : `${id}: down`;
    });
    throw new InvariantViolation("liveness", `no write committed within 4s after healing; status: ${st.join(" ")}`);
  }
}

export { FaultInjector, PROFILES } from "./faults.ts";
export type { FaultProfile } from "./faults.ts";
