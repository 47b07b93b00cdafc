import { Assignment } from "../../src/cluster/assignment.ts";
import { StreamBusError } from "../../src/errors.ts";
import type {
  AssignmentConstraints,
  AssignmentStrategy,
  BrokerMetadata,
  PartitionInfo,
  PartitionPlacement,
} from "../../src/cluster/types.ts";

const eligibleIds = (brokers: BrokerMetadata[], c?: AssignmentConstraints) =>
  brokers.filter((b) => b.status === "ALIVE" && !c?.excludedBrokers?.has(b.id)).map((b) => b.id).sort((a, b) => a - b);

/**
 * A small, obviously-correct strategy for coordinator tests (the real ones live in src/cluster/strategies):
 * assign stripes round robin; rebalance replaces ineligible replicas with the least loaded eligible broker,
 * then moves replicas from the most to the least loaded broker until the spread is at most 1.
 */
export class TestStrategy implements AssignmentStrategy {
  readonly name = "test";

  assign(partitions: PartitionInfo[], brokers: BrokerMetadata[], c?: AssignmentConstraints): Assignment {
    const ids = eligibleIds(brokers, c);
    const out: PartitionPlacement[] = [];
    let i = 0;
    for (const p of partitions) {
      if (p.replicas > ids.length) {
        throw new StreamBusError("Invalid", `replication factor ${p.replicas} exceeds ${ids.length} eligible brokers`);
      }
      const replicas = Array.from({ length: p.replicas }, (_, k) => ids[(i + k) % ids.length]!);
      out.push({ topic: p.topic, partitionId: p.partitionId, replicas, leader: replicas[0]! });
      i++;
    }
    return new Assignment(out);
  }

  rebalance(current: Assignment, brokers: BrokerMetadata[], c?: AssignmentConstraints): Assignment {
    const ids = eligibleIds(brokers, c);
    const parts = current.partitions();
    const load = new Map<number, number>(ids.map((id) => [id, 0]));
    for (const p of parts) for (const r of p.replicas) if (load.has(r)) load.set(r, load.get(r)! + 1);
    const least = (exclude: number[]) =>
      ids.filter((id) => !exclude.includes(id)).sort((a, b) => load.get(a)! - load.get(b)! || a - b)[0];
    for (const p of parts) {
      for (let k = 0; k < p.replicas.length; k++) {
        if (load.has(p.replicas[k]!)) continue;
        const to = least(p.replicas);
        if (to === undefined) throw new StreamBusError("Invalid", "not enough eligible brokers");
        p.replicas[k] = to;
        load.set(to, load.get(to)! + 1);
      }
    }
    for (let guard = 0; guard < 10_000; guard++) {
      const sorted = [...ids].sort((a, b) => load.get(b)! - load.get(a)! || a - b);
      const hi = sorted[0], lo = sorted[sorted.length - 1];
      if (hi === undefined || lo === undefined || load.get(hi)! - load.get(lo)! <= 1) break;
      const p = parts.find((q) => q.replicas.includes(hi) && !q.replicas.includes(lo));
      if (!p) break;
      p.replicas[p.replicas.indexOf(hi)] = lo;
      load.set(hi, load.get(hi)! - 1);
      load.set(lo, load.get(lo)! + 1);
    }
    for (const p of parts) if (!p.replicas.includes(p.leader)) p.leader = p.replicas[0]!;
    return new Assignment(parts, current.version);
  }
}

/** Lets queued promise chains run (one macrotask turn, a few times). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setTimeout(r, 0));
}

export function broker(id: number, extra: Partial<BrokerMetadata> = {}): BrokerMetadata {
  return { id, host: "localhost", port: 9090 + id, ...extra };
}

export async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<StreamBusError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof StreamBusError && e.code === code) return e;
    throw new Error(`expected StreamBusError ${code}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  throw new Error(`expected StreamBusError ${code}, but it succeeded`);
}
