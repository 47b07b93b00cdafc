import type { Assignment } from "../../../src/cluster/assignment.ts";
import { isEligible } from "../../../src/cluster/strategies/mod.ts";
import type { AssignmentConstraints, BrokerMetadata, PartitionInfo } from "../../../src/cluster/types.ts";

export const broker = (id: number, extra: Partial<BrokerMetadata> = {}): BrokerMetadata => ({
  id,
  host: "localhost",
  port: 9000 + id,
  ...extra,
});

export const topicPartitions = (topic: string, count: number, replicas: number): PartitionInfo[] =>
  Array.from({ length: count }, (_, partitionId) => ({ topic, partitionId, replicas }));

/**
 * Rule checks that hold for every strategy output: each requested partition present once with its
 * replication factor, distinct replicas on eligible brokers, leader = replicas[0], maxPartitionsPerBroker.
 * Returns the problems found (empty when fine) so a failing property prints them.
 */
export function ruleProblems(
  a: Assignment,
  partitions: Array<{ topic: string; partitionId: number; replicas: number }>,
  brokers: BrokerMetadata[],
  constraints: AssignmentConstraints = {},
): string[] {
  const problems: string[] = [];
  const eligible = new Set(brokers.filter((b) => isEligible(b, constraints.excludedBrokers)).map((b) => b.id));
  if (a.totalPartitions() !== partitions.length) problems.push(`has ${a.totalPartitions()} partitions, want ${partitions.length}`);
  for (const p of partitions) {
    const reps = a.getReplicas(p.topic, p.partitionId);
    const where = `${p.topic}/${p.partitionId} ${JSON.stringify(reps)}`;
    if (reps.length !== p.replicas) problems.push(`${where}: RF ${reps.length}, want ${p.replicas}`);
    if (new Set(reps).size !== reps.length) problems.push(`${where}: duplicate replica`);
    for (const r of reps) if (!eligible.has(r)) problems.push(`${where}: broker ${r} not eligible`);
    if (a.getLeader(p.topic, p.partitionId) !== reps[0]) problems.push(`${where}: leader is not replicas[0]`);
    if (problems.length > 5) break;
  }
  if (constraints.maxPartitionsPerBroker !== undefined) {
    for (const [b, n] of a.brokerLoad()) {
      if (n > constraints.maxPartitionsPerBroker) problems.push(`broker ${b} hosts ${n} > ${constraints.maxPartitionsPerBroker}`);
    }
  }
  return problems;
}

/** max − min of per-broker counts over the given broker ids (absent ones count 0). */
export function spreadOver(counts: Map<number, number>, ids: number[]): number {
  const values = ids.map((id) => counts.get(id) ?? 0);
  return values.length ? Math.max(...values) - Math.min(...values) : 0;
}

export function eligibleIds(brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): number[] {
  return brokers.filter((b) => isEligible(b, constraints.excludedBrokers)).map((b) => b.id);
}
