import type { Assignment } from "../assignment.ts";
import type { AssignmentConstraints, AssignmentStrategy, BrokerMetadata, PartitionInfo } from "../types.ts";
import { buildCluster, toAssignment, workFromInfos } from "./model.ts";
import { placeAll } from "./placer.ts";
import { infosOf } from "./infos.ts";

/**
 * Gives each eligible broker one contiguous range of each topic's partitions to lead (sizes differ by at most
 * one), rotating where each topic's first range starts so leaders do not pile onto the lowest ids; followers
 * go to the brokers with the most of the topic's quota left. Same balance guarantees as RoundRobinStrategy,
 * and `rebalance` likewise recomputes from scratch.
 *
 * @example
 * new RangeStrategy().assign(partitions, brokers, { rackAware: true });
 */
export class RangeStrategy implements AssignmentStrategy {
  readonly name = "range";

  assign(partitions: PartitionInfo[], brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): Assignment {
    const c = buildCluster(brokers, constraints);
    const work = workFromInfos(partitions, c);
    placeAll(work, c, "range");
    return toAssignment(work, c);
  }

  rebalance(current: Assignment, brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): Assignment {
    return this.assign(infosOf(current), brokers, constraints).withVersion(current.version);
  }
}
