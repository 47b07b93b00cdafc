/**
 * The metric families GET /metrics exposes for Raft, brokers and assignment, refreshed at each scrape
 * from the components' own counters. Transport families are registered by the transport itself.
 */
import { Assignment } from "../cluster/assignment.ts";
import { localAssignmentStats, localMinimumMoves } from "../cluster/assignment-report.ts";
import type { BrokerRegistry } from "../cluster/broker-registry.ts";
import type { ClusterCoordinator } from "../cluster/cluster-coordinator.ts";
import type { BrokerStatus } from "../cluster/types.ts";
import type { MetadataStore } from "../metadata/metadata-store.ts";
import { type Histogram, LATENCY_BUCKETS, type MetricsRegistry, mirrorCount } from "../metrics.ts";
import type { LatencySummary, RaftNodeMetrics } from "../raft/node-metrics.ts";

export interface ClusterMetricsSources {
  node: { metrics(): RaftNodeMetrics };
  registry: BrokerRegistry;
  coordinator: ClusterCoordinator;
  metadata: MetadataStore;
}

const STATUSES: BrokerStatus[] = ["STARTING", "ALIVE", "DRAINING", "DECOMMISSIONED", "FAILED"];

/** Registers the families and the collector that refreshes them. */
export function installClusterMetrics(m: MetricsRegistry, s: ClusterMetricsSources): void {
  const term = m.gauge("streambus_raft_term", "Current Raft term");
  const commit = m.gauge("streambus_raft_commit_index", "Highest log index known committed");
  const applied = m.gauge("streambus_raft_applied_index", "Highest log index applied on this node");
  const isLeader = m.gauge("streambus_raft_is_leader", "1 when this node is the Raft leader");
  const leaderId = m.gauge("streambus_raft_leader_id", "Id of the known leader (0: none)");
  const mirrors = [
    mirrorCount(m.counter("streambus_raft_leader_changes_total", "Leader changes seen by this node"), () => s.node.metrics().leaderChanges),
    mirrorCount(m.counter("streambus_raft_proposals_total", "Proposals made on this node"), () => s.node.metrics().proposals),
    mirrorCount(m.counter("streambus_raft_proposals_failed_total", "Proposals that failed"), () => s.node.metrics().proposalsFailed),
    mirrorCount(m.counter("streambus_raft_snapshots_total", "Snapshots taken (compactions)"), () => s.node.metrics().snapshotsTaken, { kind: "taken" }),
    mirrorCount(m.counter("streambus_raft_snapshots_total", "Snapshots taken (compactions)"), () => s.node.metrics().snapshotsInstalled, { kind: "installed" }),
    mirrorCount(m.counter("streambus_raft_read_barriers_total", "Linearizable read barriers"), () => s.node.metrics().readBarriers),
    mirrorCount(m.counter("streambus_raft_malformed_frames_total", "Peer frames the driver could not decode or the core rejected"), () => s.node.metrics().malformedFrames),
    mirrorCount(m.counter("streambus_raft_send_failures_total", "Frames the transport refused (peer unreachable, queue full)"), () => s.node.metrics().sendFailures),
    mirrorCount(m.counter("streambus_rebalances_total", "Rebalances run by this node's coordinator"), () => s.coordinator.stats().rebalances),
    mirrorCount(m.counter("streambus_rebalance_moves_total", "Replica moves applied by rebalances"), () => s.coordinator.stats().movesApplied),
    mirrorCount(m.counter("streambus_rebalance_failures_total", "Rebalances that failed"), () => s.coordinator.stats().failures),
  ];
  const appendLatency = latencyMirror(m.histogram("streambus_raft_append_latency_seconds", "Time to persist one Ready batch", LATENCY_BUCKETS));
  const commitLatency = latencyMirror(m.histogram("streambus_raft_commit_latency_seconds", "Time from propose to applied on this node", LATENCY_BUCKETS));
  const brokers = m.gauge("streambus_brokers", "Registered brokers by status");
  const active = m.gauge("streambus_brokers_active", "Brokers ALIVE");
  const failed = m.gauge("streambus_brokers_failed", "Brokers FAILED");
  const partitions = m.gauge("streambus_partitions", "Partitions assigned");
  const replicaSpread = m.gauge("streambus_assignment_replica_spread", "Imbalance: max - min replicas per ALIVE broker");
  const leaderSpread = m.gauge("streambus_assignment_leader_spread", "Imbalance: max - min leaders per ALIVE broker");
  const minMoves = m.gauge("streambus_assignment_minimum_moves", "Replica moves needed to reach replica spread <= 1");
  const assignmentVersion = m.gauge("streambus_assignment_version", "Assignment version");

  m.collect(async () => {
    const r = s.node.metrics();
    term.set(r.term);
    commit.set(r.commitIndex);
    applied.set(r.appliedIndex);
    isLeader.set(r.isLeader ? 1 : 0);
    leaderId.set(r.leaderId ?? 0);
    for (const f of mirrors) f();
    appendLatency(r.appendLatency);
    commitLatency(r.commitLatency);
    const list = await s.registry.listBrokers({ consistency: "stale" });
    for (const st of STATUSES) brokers.set(list.filter((b) => b.status === st).length, { status: st });
    active.set(list.filter((b) => b.status === "ALIVE").length);
    failed.set(list.filter((b) => b.status === "FAILED").length);
    const a = new Assignment(s.metadata.fsm.listPlacements(), s.metadata.fsm.assignmentVersion);
    partitions.set(a.totalPartitions());
    const stats = localAssignmentStats(a, list);
    replicaSpread.set(stats.replicaSpread);
    leaderSpread.set(stats.leaderSpread);
    minMoves.set(localMinimumMoves(a, list));
    assignmentVersion.set(s.metadata.fsm.assignmentVersion);
  });
}

/** Feeds the samples recorded since the last scrape (the driver keeps the latest few hundred) into a histogram. */
function latencyMirror(h: Histogram): (l: LatencySummary) => void {
  let seen = 0;
  return (l) => {
    const fresh = Math.min(l.count - seen, l.recentMs.length);
    for (const ms of l.recentMs.slice(l.recentMs.length - Math.max(0, fresh))) h.observe(ms / 1000);
    seen = l.count;
  };
}
