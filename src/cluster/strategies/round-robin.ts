import type { Assignment } from "../assignment.ts";
import type { AssignmentConstraints, AssignmentStrategy, BrokerMetadata, PartitionInfo } from "../types.ts";
import { assignFresh } from "./placer.ts";
import { infosOf } from "./infos.ts";

/**
 * Stripes each topic's leaders over the eligible brokers one by one (partition i on the i-th broker after a
 * cursor that advances across topics) with followers on the brokers that have the most of the topic's quota
 * left. Replica and leader counts differ by at most one per broker, cluster-wide and within each topic,
 * whenever the constraints allow. Broker `capacity` weights the shares (a broker of capacity 2 gets twice the
 * replicas and leaderships of one of capacity 1; see targets.ts for the exact rule). `rebalance` recomputes
 * the layout from scratch over the current brokers (like Kafka's `--generate`): it repairs new and departed
 * brokers but may move many replicas; use StickyStrategy to move the fewest.
 *
 * @example
 * new RoundRobinStrategy().assign([{ topic: "t", partitionId: 0, replicas: 2 }], brokers).getReplicas("t", 0);
 */
export class RoundRobinStrategy implements AssignmentStrategy {
  readonly name = "round-robin";

  assign(partitions: PartitionInfo[], brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): Assignment {
    return assignFresh(partitions, brokers, constraints, "stripe");
  }

  rebalance(current: Assignment, brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): Assignment {
    return this.assign(infosOf(current), brokers, constraints).withVersion(current.version);
  }
}
