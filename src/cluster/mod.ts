export { Assignment } from "./assignment.ts";
export * from "./types.ts";
export { BrokerRegistry, HEARTBEAT_METHOD } from "./broker-registry.ts";
export type { BrokerRegistryOptions, ReadOptions, RegistryListener } from "./broker-registry.ts";
export {
  DEFAULT_CHECK_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_RECOVERY_PERIOD_MS,
  HealthTracker,
} from "./broker-health.ts";
export type { HealthSettings, HealthTransition } from "./broker-health.ts";
export { DEFAULT_HEARTBEAT_INTERVAL_MS, HeartbeatService } from "./heartbeat-service.ts";
export type { HeartbeatServiceOptions, HeartbeatStats, HeartbeatTarget } from "./heartbeat-service.ts";
export {
  ClusterCoordinator,
  DEFAULT_REBALANCE_INTERVAL_MS,
  DEFAULT_REBALANCE_THRESHOLD,
  DRAIN_METHOD,
  REBALANCE_METHOD,
} from "./cluster-coordinator.ts";
export type { ClusterCoordinatorOptions, CoordinatorStats, RebalanceResult } from "./cluster-coordinator.ts";
export { DEFAULT_MOVEMENT_LIMITS, planMovement } from "./movement-plan.ts";
export type { MovementLimits, MovementPlan } from "./movement-plan.ts";
export * from "./strategies/mod.ts";
