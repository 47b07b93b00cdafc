import { StickyStrategy } from "../../src/cluster/strategies/mod.ts";
import type { AssignmentStrategy } from "../../src/cluster/types.ts";

/** The strategy the Raft flow tests use: the guide's choice. */
export const strategyForFlows = (): AssignmentStrategy => new StickyStrategy();
