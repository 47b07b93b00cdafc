// Assignment strategies at scale (issue 4): assign 100,000 partitions × RF 3 over 1,000 brokers in 10 racks,
// then a Sticky rebalance after adding one broker and after losing one. Beside each rebalance: the moves a
// from-scratch reassignment makes (what Kafka's `kafka-reassign-partitions --generate` does).
// Goals on Bun: assign ≤ 200 ms, rebalance ≤ 100 ms, moves equal to minimumMoves.
// Run: npx bun scripts/bench/assignment.ts [partitions] [brokers] [racks] [topics]
import { Assignment } from "../../src/cluster/assignment.ts";
import {
  assignmentStats,
  leaderChangesBetween,
  minimumMoves,
  movesBetween,
  RangeStrategy,
  RoundRobinStrategy,
  StickyStrategy,
} from "../../src/cluster/strategies/mod.ts";
import type { AssignmentConstraints, BrokerMetadata, PartitionInfo } from "../../src/cluster/types.ts";

const [P = 100_000, N = 1_000, RACKS = 10, TOPICS = 100] = process.argv.slice(2).map(Number);
const RF = 3;
const constraints: AssignmentConstraints = { rackAware: true };
const broker = (id: number): BrokerMetadata => ({ id, host: "10.0.0." + (id % 250), port: 9092, rack: `rack-${id % RACKS}`, status: "ALIVE" });
const brokers = Array.from({ length: N }, (_, i) => broker(i + 1));
const partitions: PartitionInfo[] = [];
for (let i = 0; i < P; i++) partitions.push({ topic: `topic-${String(i % TOPICS).padStart(3, "0")}`, partitionId: Math.floor(i / TOPICS), replicas: RF });

function time<T>(fn: () => T, runs = 5): { ms: number; value: T } {
  let best = Infinity, value!: T;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    value = fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, value };
}
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const stats = (a: Assignment, bs: BrokerMetadata[]) => {
  const s = assignmentStats(a, bs, constraints);
  return `replicaSpread ${s.replicaSpread}, leaderSpread ${s.leaderSpread}, rackViolations ${s.rackViolations}`;
};

console.log(`assign ${P} partitions × RF ${RF} over ${N} brokers in ${RACKS} racks (${TOPICS} topics), rackAware`);
const sticky = new StickyStrategy();
// Warm the JIT on a smaller cluster so the first strategy measured is not penalised.
for (const s of [new RoundRobinStrategy(), new RangeStrategy(), sticky]) {
  const small = s.assign(partitions.slice(0, 10_000), brokers.slice(0, 100), constraints);
  s.rebalance(small, brokers.slice(0, 101), constraints);
}
let base!: Assignment;
for (const s of [new RoundRobinStrategy(), new RangeStrategy(), sticky]) {
  const r = time(() => s.assign(partitions, brokers, constraints));
  if (s === sticky) base = r.value;
  console.log(`  ${s.name.padEnd(12)} ${fmt(r.ms).padStart(10)}  (goal ≤ 200 ms)  ${stats(r.value, brokers)}`);
}

// Every result is an Assignment; building one (sort + index of 100k placements) is a fixed cost in both figures.
const build = time(() => new Assignment(base.partitions()));
console.log(`  (of which building the Assignment result: ~${fmt(build.ms)})`);

const scenarios: Array<[string, BrokerMetadata[]]> = [
  ["add one broker", [...brokers, broker(N + 1)]],
  ["lose one broker", brokers.map((b) => (b.id === 500 ? { ...b, status: "FAILED" as const } : b))],
];
for (const [label, after] of scenarios) {
  const min = minimumMoves(base, after, constraints);
  const r = time(() => sticky.rebalance(base, after, constraints));
  const fresh = new RoundRobinStrategy().assign(partitions, after, constraints);
  console.log(`sticky rebalance, ${label}:`);
  console.log(
    `  time ${fmt(r.ms)} (goal ≤ 100 ms)  moves ${movesBetween(base, r.value)} vs minimumMoves ${min}` +
      `  leader changes ${leaderChangesBetween(base, r.value)}  ${stats(r.value, after)}`,
  );
  console.log(`  from-scratch reassignment (Kafka --generate style): moves ${movesBetween(base, fresh)}  ${stats(fresh, after)}`);
}
