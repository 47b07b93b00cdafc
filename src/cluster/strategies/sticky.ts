import type { Assignment } from "../assignment.ts";
import type { AssignmentConstraints, AssignmentStrategy, BrokerMetadata, PartitionInfo } from "../types.ts";
import { buildCluster, toAssignment, workFromAssignment } from "./model.ts";
import { assignFresh, balanceAllLeaders } from "./placer.ts";
import { balanceReplicas } from "./replica-balancer.ts";
import { replicaTargets } from "./targets.ts";

/**
 * Places new partitions like RoundRobinStrategy; `rebalance` balances with the fewest replica moves:
 * replica counts end within [⌊share⌋, ⌈share⌉] (spread ≤ 1 for equal capacities), the rack rule holds, and
 * the number of moved replicas equals `minimumMoves(current, brokers)` unless the rack rule or distinctness
 * makes that bound unreachable (then a move through a third broker costs one extra). Leadership is then
 * balanced cluster-wide (spread ≤ 1 when possible) by reordering replicas, with no data moves; only where
 * single-replica partitions pin too many leaderships on one broker are replicas moved for it (leader balance
 * comes before the move bound). An already balanced assignment comes back unchanged; losing a broker moves
 * exactly its replicas.
 *
 * @example
 * const next = new StickyStrategy().rebalance(current, [...brokers, newBroker]);
 * movesBetween(current, next) === minimumMoves(current, [...brokers, newBroker]); // true
 */
export class StickyStrategy implements AssignmentStrategy {
  readonly name = "sticky";

  assign(partitions: PartitionInfo[], brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): Assignment {
    return assignFresh(partitions, brokers, constraints, "stripe");
  }

  rebalance(current: Assignment, brokers: BrokerMetadata[], constraints: AssignmentConstraints = {}): Assignment {
    const c = buildCluster(brokers, constraints);
    const work = workFromAssignment(current, c);
    if (work.length === 0) return current;
    const targets = replicaTargets(c, work.map((w) => w.replicas.length));
    balanceReplicas(work, c, targets);
    balanceAllLeaders(work, c, targets, false);
    return toAssignment(work, c, current.version);
  }
}
