/** Partition assignment strategies (CONTRACT.md §1): pure and deterministic. */
export { RoundRobinStrategy } from "./round-robin.ts";
export { RangeStrategy } from "./range.ts";
export { StickyStrategy } from "./sticky.ts";
export { assignmentStats, type AssignmentStats, leaderChangesBetween, minimumMoves, movesBetween } from "./stats.ts";
export { isEligible } from "./model.ts";
