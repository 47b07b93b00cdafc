import type { Assignment } from "../assignment.ts";
import type { AssignmentConstraints, AssignmentStrategy, BrokerMetadata, PartitionInfo } from "../types.ts";
import { assignFresh } from "./placer.ts";
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
    return assignFresh(partitions, brokers, constraints, "range");
  }

  rebalance(current: Assignment, brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): Assignment {
    return this.assign(infosOf(current), brokers, constraints).withVersion(current.version);
  }
}
