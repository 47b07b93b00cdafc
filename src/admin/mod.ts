/** The admin HTTP API (Hono, web standards only). Re-exports only. */
export { type AdminDeps, type AdminRaftView, createAdminRouter } from "./admin-router.ts";
export { installClusterMetrics, type ClusterMetricsSources } from "./cluster-metrics.ts";
export { type ErrorBody, STATUS_OF } from "./http-errors.ts";
export { constantTimeEqual } from "./auth.ts";
