/**
 * Metadata FSM benchmark: apply throughput (registerBroker; applyAssignment of 10,000 partitions), and the
 * snapshot of 100,000 partitions × RF 3 over 1,000 brokers (size, encode and decode time).
 * Goal (issue 3): snapshot encode + decode under 1 s on Bun.
 *
 *   npx bun scripts/bench/metadata.ts
 */
import { MetadataFSM } from "../../src/metadata/metadata-fsm.ts";
import { encodeCommand } from "../../src/metadata/operation-codec.ts";
import type { Operation, TopicPlacementInput } from "../../src/metadata/types.ts";

const BROKERS = 1_000;
const runtime = typeof (globalThis as { Bun?: { version: string } }).Bun !== "undefined"
  ? `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `node ${(globalThis as { process?: { version: string } }).process?.version}`;

let seq = 0;
const cmd = (op: Operation) => encodeCommand({ clientId: "bench", seq: ++seq, op });

function time<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number, d = 1) => n.toLocaleString("en-US", { maximumFractionDigits: d });

function withBrokers(): { fsm: MetadataFSM; index: number } {
  const fsm = new MetadataFSM();
  let index = 0;
  for (let id = 1; id <= BROKERS; id++) {
    fsm.apply(cmd({ type: "registerBroker", broker: { id, host: `10.0.${id >> 8}.${id & 255}`, port: 9092, rack: `rack-${id % 10}` }, at: id }), ++index);
  }
  return { fsm, index };
}

/** RF 3 placements striped over the brokers, shifted per topic. */
function placements(topic: string, count: number, shift: number): TopicPlacementInput[] {
  return Array.from({ length: count }, (_, p) => {
    const b = (p + shift) % BROKERS;
    return { topic, partitionId: p, replicas: [b + 1, ((b + 1) % BROKERS) + 1, ((b + 2) % BROKERS) + 1] };
  });
}

console.log(`metadata FSM benchmark on ${runtime}`);

// 1. registerBroker: 1,000 new brokers then re-registrations (upserts bumping the epoch).
{
  const N = 100_000;
  const ops = Array.from({ length: N }, (_, i) => {
    const id = (i % BROKERS) + 1;
    return cmd({ type: "registerBroker", broker: { id, host: `10.0.${id >> 8}.${id & 255}`, port: 9092, rack: `rack-${id % 10}`, tags: { zone: "z" } }, at: i });
  });
  const fsm = new MetadataFSM();
  const { ms } = time(() => {
    for (let i = 0; i < N; i++) fsm.apply(ops[i], i + 1);
  });
  const enc = time(() => {
    for (let i = 0; i < 10_000; i++) cmd({ type: "registerBroker", broker: { id: 1, host: "h", port: 1 }, at: i });
  });
  console.log(`registerBroker apply: ${fmt(N / (ms / 1000), 0)} ops/s (${fmt((ms * 1000) / N, 2)} µs/op over ${fmt(N)} ops, ${BROKERS} brokers; encode ${fmt((enc.ms * 1000) / 10_000, 2)} µs/op)`);
}

// 2. applyAssignment: one batch of 10,000 partitions (create, then move every leader), and 10,000 single-partition ops.
{
  const { fsm, index: start } = withBrokers();
  let index = start;
  const creates: number[] = [], updates: number[] = [];
  for (let r = 0; r < 5; r++) {
    const create = cmd({ type: "applyAssignment", partitions: placements(`batch-${r}`, 10_000, r), at: r });
    const update = cmd({ type: "applyAssignment", partitions: placements(`batch-${r}`, 10_000, r + 1), at: r });
    creates.push(time(() => fsm.apply(create, ++index)).ms);
    updates.push(time(() => fsm.apply(update, ++index)).ms);
  }
  const c = median(creates), u = median(updates);
  console.log(`applyAssignment, 1 op × 10,000 partitions: create ${fmt(c)} ms (${fmt(10_000 / (c / 1000), 0)} partitions/s), update ${fmt(u)} ms (${fmt(10_000 / (u / 1000), 0)} partitions/s)`);
  const singles = placements("singles", 10_000, 3).map((p) => cmd({ type: "applyAssignment", partitions: [p], at: 0 }));
  const { ms } = time(() => {
    for (const s of singles) fsm.apply(s, ++index);
  });
  console.log(`applyAssignment, 10,000 ops × 1 partition: ${fmt(ms)} ms (${fmt(10_000 / (ms / 1000), 0)} ops/s)`);
}

// 3. Snapshot of 100,000 partitions × RF 3 over 1,000 brokers (100 topics × 1,000 partitions).
{
  const { fsm, index: start } = withBrokers();
  let index = start;
  for (let t = 0; t < 100; t++) fsm.apply(cmd({ type: "applyAssignment", partitions: placements(`topic-${String(t).padStart(3, "0")}`, 1_000, t * 7), at: t }), ++index);
  if (fsm.listPlacements().length !== 100_000) throw new Error("setup failed");
  const encodes: number[] = [], decodes: number[] = [];
  let bytes = 0;
  for (let r = 0; r < 7; r++) {
    const e = time(() => fsm.snapshot());
    bytes = e.value.length;
    const copy = new MetadataFSM();
    const d = time(() => copy.restore(e.value));
    encodes.push(e.ms);
    decodes.push(d.ms);
    if (r === 0 && copy.listPartitions().length !== 100_000) throw new Error("restore lost partitions");
  }
  // A lagging follower restores over an older state: the diff it reports to listeners costs extra.
  const older = new MetadataFSM();
  older.restore(fsm.snapshot());
  older.apply(cmd({ type: "applyAssignment", partitions: placements("topic-000", 1_000, 1), at: 0 }), index + 1);
  const snap = fsm.snapshot();
  const over = time(() => older.restore(snap)).ms;
  const enc = median(encodes), dec = median(decodes);
  console.log(`snapshot, 100,000 partitions × RF 3, ${BROKERS} brokers: ${fmt(bytes / 1024 / 1024, 2)} MiB, encode ${fmt(enc)} ms, decode (restore) ${fmt(dec)} ms, encode+decode ${fmt(enc + dec)} ms (goal < 1,000 ms on Bun: ${enc + dec < 1000 ? "met" : "NOT met"})`);
  console.log(`restore over a populated state (1,000 partitions differ, diff events included): ${fmt(over)} ms`);
}
