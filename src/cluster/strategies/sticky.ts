import type { Assignment } from "../assignment.ts";
import type { AssignmentConstraints, AssignmentStrategy, BrokerMetadata, PartitionInfo } from "../types.ts";
import { buildCluster, toAssignment, type WorkPartition, workFromAssignment } from "./model.ts";
import { assignFresh, balanceAllLeaders } from "./placer.ts";
import { reduceMoves } from "./move-reducer.ts";
import { balanceReplicas } from "./replica-balancer.ts";
import { replicaTargets } from "./targets.ts";

/**
 * Places new partitions like RoundRobinStrategy; `rebalance` balances with the fewest replica moves:
 * replica counts end within [⌊share⌋, ⌈share⌉] (spread ≤ 1 for equal capacities), the rack rule holds, and
 * the number of moved replicas equals `minimumMoves(current, brokers)` unless the rack rule or distinctness
 * makes that bound unreachable. Then a min-cost pass (`reduceMoves`) removes every needless move the greedy
 * balance made: without racks the result is the true minimum over all balanced placements (a broker holds at
 * most one replica of a partition); with racks, no cycle of rule-keeping hand-overs saves a move. Leadership is then
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
    const bound = moveBound(work, targets);
    // The greedy balance usually meets the bound; only when it does not is the exact pass worth its cost.
    if (balanceReplicas(work, c, targets) > bound) {
      const before = workFromAssignment(current, c).map((w) => w.replicas);
      reduceMoves(work, c, targets, before, bound);
    }
    balanceAllLeaders(work, c, targets, false);
    return toAssignment(work, c, current.version);
  }
}

/** minimumMoves on the working view: max(departed replicas + Σ surplus above hi, Σ deficit below lo). */
function moveBound(work: WorkPartition[], t: { lo: ArrayLike<number>; hi: ArrayLike<number> }): number {
  const count = new Int32Array(t.lo.length);
  let holes = 0;
  for (const w of work) for (const b of w.replicas) b >= 0 ? count[b]++ : holes++;
  let surplus = 0, deficit = 0;
  for (let b = 0; b < count.length; b++) {
    surplus += Math.max(0, count[b] - t.hi[b]);
    deficit += Math.max(0, t.lo[b] - count[b]);
  }
  return Math.max(holes + surplus, deficit);
}
