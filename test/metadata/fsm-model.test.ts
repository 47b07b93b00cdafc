import { describe, expect, test } from "bun:test";
import { Encoder } from "cbor-x";
import { MetadataFSM } from "../../src/metadata/metadata-fsm.ts";
import { encodeCommand } from "../../src/metadata/operation-codec.ts";
import type { BrokerStatus } from "../../src/cluster/types.ts";
import type { ApplyResult, Operation } from "../../src/metadata/types.ts";
import { type Random, seededRandom } from "../../src/rng.ts";
import { emptyModel, modelApply, type ModelState, modelView } from "./reference-model.ts";

const cbor = new Encoder({ useRecords: false });
const STATUSES: BrokerStatus[] = ["STARTING", "ALIVE", "DRAINING", "DECOMMISSIONED", "FAILED"];
const TOPICS = ["alpha", "beta", "gamma"];

function pick<T>(r: Random, xs: readonly T[]): T {
  return xs[r.int(xs.length)];
}
function ids(r: Random, n: number, max = 7): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const id = 1 + r.int(max);
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * Random, shape-valid operations, biased by the model's state so most are meaningful; many still break a
 * rule (unknown brokers, stale epochs, ISR outside the replicas, ...).
 */
function randomOp(r: Random, at: number, m: ModelState): Operation {
  const known = Object.keys(m.brokers).map(Number);
  const someIds = (n: number) => (known.length >= n && r.chance(0.85) ? shuffle(r, known).slice(0, n) : ids(r, n));
  const existing = Object.values(m.topics).flatMap((t) => Object.entries(t.parts).map(([id, p]) => ({ topic: t.name, partitionId: Number(id), p })));
  const target = existing.length > 0 && r.chance(0.85) ? pick(r, existing) : { topic: pick(r, TOPICS), partitionId: r.int(4), p: undefined };
  const { topic, partitionId, p } = target;
  switch (r.int(14)) {
    case 0:
    case 1: {
      const id = 1 + r.int(6);
      const b: Record<string, unknown> = { id, host: r.chance(0.15) ? "shared" : `h${id}`, port: 9000 + (r.chance(0.15) ? 0 : id) };
      if (r.chance(0.5)) b.rack = `rack-${r.int(3)}`;
      if (r.chance(0.3)) b.tags = { tier: pick(r, ["hot", "cold"]) };
      if (r.chance(0.3)) b.capacity = 1 + r.int(4);
      if (r.chance(0.2)) b.status = pick(r, STATUSES);
      return { type: "registerBroker", broker: b as never, at };
    }
    case 2:
      return { type: "unregisterBroker", brokerId: r.chance(0.5) && known.length > 0 ? pick(r, known) : 1 + r.int(7) };
    case 3:
      return { type: "updateBrokerStatus", brokerId: 1 + r.int(7), status: pick(r, STATUSES), at };
    case 4:
      return {
        type: "updateBroker",
        brokerId: 1 + r.int(7),
        patch: r.chance(0.5) ? { rack: r.chance(0.5) ? null : "rack-9", diskUsedGB: r.int(100) } : { port: 9000 + r.int(8) },
      };
    case 5: {
      const n = 1 + r.int(3);
      const parts = Array.from({ length: n }, (_, i) => ({ partitionId: i, replicas: someIds(1 + r.int(3)) }));
      if (r.chance(0.1)) parts[0].partitionId = 5; // a gap: invalid
      return { type: "createTopic", name: pick(r, TOPICS), config: { retentionMs: r.int(1000) }, partitions: parts, at };
    }
    case 6:
      return { type: "deleteTopic", name: r.chance(0.3) ? topic : pick(r, TOPICS) };
    case 7:
      return { type: "updateTopicConfig", name: topic, config: r.chance(0.5) ? { retentionMs: null } : { segmentBytes: 1 + r.int(99) } };
    case 8:
    case 9: {
      const n = 1 + r.int(4);
      const seen = new Set<string>();
      const partitions = [];
      for (let i = 0; i < n; i++) {
        const t = pick(r, TOPICS), pid = r.int(4);
        if (seen.has(`${t}/${pid}`)) continue;
        seen.add(`${t}/${pid}`);
        const replicas = someIds(1 + r.int(3));
        partitions.push({ topic: t, partitionId: pid, replicas, ...(r.chance(0.3) ? { leader: pick(r, replicas) } : {}) });
      }
      return { type: "applyAssignment", partitions, at };
    }
    case 10: {
      const leader = p && r.chance(0.8) ? pick(r, p.isr as number[]) : 1 + r.int(7);
      const leaderEpoch = p && r.chance(0.8) ? p.leaderEpoch + 1 : r.int(4);
      return { type: "updateLeader", topic, partitionId, leader, leaderEpoch };
    }
    case 11:
    case 12: {
      let isr: number[];
      if (p && r.chance(0.85)) {
        // During a reassignment, often catch every replica up so completeReassignment can succeed.
        isr = (p.replicas as number[]).filter(() => (p.addingReplicas && r.chance(0.6)) || r.chance(0.7));
        if (isr.length === 0) isr = [p.replicas[0]];
      } else isr = ids(r, 1 + r.int(3));
      const fence = r.chance(0.3) ? { leaderEpoch: p && r.chance(0.7) ? p.leaderEpoch : r.int(3) } : {};
      return { type: "updateIsr", topic, partitionId, isr, ...fence };
    }
    default:
      return r.chance(0.5) && !p?.addingReplicas
        ? { type: "beginReassignment", topic, partitionId, targetReplicas: someIds(1 + r.int(3)) }
        : { type: "completeReassignment", topic, partitionId };
  }
}

function shuffle<T>(r: Random, xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const view = (f: MetadataFSM) => ({
  brokers: f.listBrokers(),
  topics: f.listTopics(),
  partitions: f.listPartitions(),
  version: f.version,
  assignmentVersion: f.assignmentVersion,
});

interface Step {
  data: Uint8Array;
  /** Expected error code, null for success, "dup" for a retry answered from the session table. */
  expect: string | null | "dup" | "malformed";
}

function runSeed(seed: number, length: number) {
  const r = seededRandom(seed);
  const model = emptyModel();
  const fsm = new MetadataFSM();
  const steps: Step[] = [];
  const results: ApplyResult[] = [];
  const snapAt = r.int(length);
  let snapshot: Uint8Array | undefined;
  let seq = 0;
  for (let i = 0; i < length; i++) {
    if (i === snapAt) snapshot = fsm.snapshot();
    let step: Step;
    const roll = r.next();
    if (roll < 0.05 && steps.length > 0) {
      step = { data: steps[r.int(steps.length)].data, expect: "dup" };
    } else if (roll < 0.08) {
      step = { data: cbor.encode({ clientId: "m", seq: ++seq, op: { type: "registerBroker", broker: { id: "x" } } }), expect: "malformed" };
    } else {
      const op = randomOp(r, 1000 + i, model);
      const expectedVersion = r.chance(0.1) ? Math.max(0, model.version - r.int(2)) : undefined;
      const data = encodeCommand({ clientId: `c${r.int(3)}`, seq: ++seq, op, ...(expectedVersion === undefined ? {} : { expectedVersion }) });
      const code = expectedVersion !== undefined && expectedVersion !== model.version ? "Conflict" : modelApply(model, op);
      step = { data, expect: code };
    }
    const res = fsm.apply(step.data, i + 1);
    if (step.expect === "dup") {
      const first = steps.findIndex((s) => s.data === step.data);
      // A malformed entry has no session to remember it by: its repeat is simply rejected again.
      if (steps[first].expect === "malformed") expect(res).toMatchObject({ ok: false, error: { code: "Invalid" } });
      else expect(res).toEqual(results[first]);
    } else if (step.expect === null) {
      if (!res.ok) throw new Error(`step ${i}: FSM rejected (${res.error.code}: ${res.error.message}); the model accepted`);
    } else {
      if (res.ok) throw new Error(`step ${i}: FSM accepted; the model rejected with ${step.expect}`);
      expect(res.error.code).toBe((step.expect === "malformed" ? "Invalid" : step.expect) as never);
    }
    steps.push(step);
    results.push(res);
    expect(view(fsm)).toEqual(modelView(model) as never);
  }
  // The snapshot from a random point, restored elsewhere, then the rest replayed, equals the reference.
  const other = new MetadataFSM();
  other.restore(snapshot!);
  for (let i = snapAt; i < length; i++) {
    const res = other.apply(steps[i].data, i + 1);
    expect(res).toEqual(results[i]);
  }
  expect(view(other)).toEqual(modelView(model) as never);
  expect(other.snapshot()).toEqual(fsm.snapshot());
}

describe("randomized operation sequences against the reference model", () => {
  const base = Number(process.env.METADATA_SEED ?? 20261127);
  for (let k = 0; k < 30; k++) {
    const seed = base + k;
    test(`seed ${seed}`, () => {
      try {
        runSeed(seed, 250);
      } catch (e) {
        console.error(`metadata model test failed: seed ${seed} (replay with METADATA_SEED=${seed})`);
        throw e;
      }
    });
  }
});
