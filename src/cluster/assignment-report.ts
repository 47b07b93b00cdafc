/**
 * Compatibility names for the balance figures; they are the strategies module's `assignmentStats` and
 * `minimumMoves` (src/cluster/strategies/stats.ts). New code should import those directly.
 */
import type { Assignment } from "./assignment.ts";
import { type AssignmentStats, assignmentStats, minimumMoves } from "./strategies/stats.ts";
import type { BrokerMetadata } from "./types.ts";

export type { AssignmentStats };

/** @deprecated use `assignmentStats` from ./strategies/mod.ts */
export function localAssignmentStats(assignment: Assignment, brokers: BrokerMetadata[]): AssignmentStats {
  return assignmentStats(assignment, brokers);
}

/** @deprecated use `minimumMoves` from ./strategies/mod.ts */
export function localMinimumMoves(current: Assignment, brokers: BrokerMetadata[]): number {
  return minimumMoves(current, brokers);
}
