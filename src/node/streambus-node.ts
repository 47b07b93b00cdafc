/**
 * StreamBusNode: the composition root. Wires RaftNode + MetadataFSM + MetadataStore + ClusterMetadataStore +
 * BrokerRegistry + ClusterCoordinator (Sticky) + the admin router, and serves the admin API and the peer
 * WebSocket (`/raft`) on one port. Another service embeds a node through it.
 *
 * @example
 * import { bunRuntime, fileStorage } from "./runtimes/bun/mod.ts";
 * const node = new StreamBusNode({ nodeId: 1, peers, listen: "127.0.0.1:19001", runtime: bunRuntime,
 *   storage: fileStorage("./data/node-1") });
 * await node.start();   // serving; node.port is the bound port
 * await node.stop();    // hands leadership over first when leading
 */
import type { Hono } from "hono";
import { createAdminRouter } from "../admin/admin-router.ts";
import { installClusterMetrics } from "../admin/cluster-metrics.ts";
import { BrokerRegistry } from "../cluster/broker-registry.ts";
import { ClusterCoordinator } from "../cluster/cluster-coordinator.ts";
import { StickyStrategy } from "../cluster/strategies/sticky.ts";
import { type LogFields, type Logger, silentLogger } from "../logger.ts";
import { ClusterMetadataStore } from "../metadata/cluster-metadata-store.ts";
import { MetadataFSM } from "../metadata/metadata-fsm.ts";
import { MetadataStore } from "../metadata/metadata-store.ts";
import { MetricsRegistry } from "../metrics.ts";
import type { Storage } from "../ports/storage.ts";
import type { Transport } from "../ports/transport.ts";
import { defaultConfig } from "../raft/config.ts";
import { RaftNode } from "../raft/raft-node.ts";
import type { Peer, RaftConfig } from "../raft/types.ts";
import { FaultInjectingTransport, mountFaultRoutes } from "../transport/fault-injection.ts";
import { parseHostPort } from "../transport/link-protocol.ts";
import type { HttpServer, RuntimeAdapter } from "../transport/runtime-adapter.ts";
import { WebSocketTransport, type WebSocketTransportOptions } from "../transport/websocket-transport.ts";

export interface StreamBusNodeOptions {
  nodeId: number;
  /** Initial voters (this node among them). */
  peers: Peer[];
  /** host:port for the admin API and the peer WebSocket (default: this node's entry in peers). */
  listen?: string;
  /** Serves HTTP and dials peers; without one, nothing listens (embed: call `node.app.fetch` yourself). */
  runtime?: RuntimeAdapter;
  storage: Storage;
  /** A transport to use instead of the WebSocket one (tests: a MemoryNetwork transport). */
  peerTransport?: Transport;
  dataDir?: string;
  clusterSecret?: string;
  adminToken?: string;
  snapshotThreshold?: number;
  /** Any other Raft settings (timeouts, batch sizes). */
  raft?: Partial<RaftConfig>;
  transport?: Omit<WebSocketTransportOptions, "clusterSecret" | "WebSocket" | "listener" | "logger" | "metrics">;
  heartbeatTimeoutMs?: number;
  checkIntervalMs?: number;
  maxBodyBytes?: number;
  logger?: Logger;
  /** Campaign within one election timeout of starting, not up to two (see RaftNodeDeps). Default true. */
  advanceElectionTicks?: boolean;
  /** Fault suite only: drop peer frames on demand via `POST /debug/partition` (off by default). */
  faultInjection?: boolean;
  /** Join a running cluster that already added this node, instead of bootstrapping `peers` (RaftConfig.join). */
  join?: boolean;
}

export class StreamBusNode {
  readonly metrics = new MetricsRegistry();
  readonly fsm: MetadataFSM;
  readonly transport: Transport;
  /** The WebSocket transport, unless `peerTransport` replaced it. */
  readonly webSocket: WebSocketTransport | undefined;
  readonly raft: RaftNode;
  readonly metadata: MetadataStore;
  readonly clusterStore: ClusterMetadataStore;
  readonly registry: BrokerRegistry;
  readonly coordinator: ClusterCoordinator;
  readonly app: Hono;
  readonly logger: Logger;
  private server: HttpServer | undefined;
  private readonly addrs: Map<number, string>;
  private readonly listen: string;
  private state: "new" | "running" | "stopping" | "stopped" = "new";

  constructor(private readonly opts: StreamBusNodeOptions) {
    const self = opts.peers.find((p) => p.id === opts.nodeId);
    this.listen = opts.listen ?? self?.addr ?? "127.0.0.1:19001";
    this.addrs = new Map(opts.peers.map((p) => [p.id, p.addr]));
    const base = opts.logger ?? silentLogger;
    // Every line carries the current term, read when the line is written.
    this.logger = withTerm(base, () => this.raft?.term);

    const config: RaftConfig = { ...defaultConfig(), ...opts.raft, nodeId: opts.nodeId, peers: opts.peers };
    if (opts.join) config.join = true;
    config.dataDir = opts.dataDir ?? `./data/node-${opts.nodeId}`;
    if (opts.snapshotThreshold !== undefined) {
      config.snapshotThreshold = opts.snapshotThreshold;
      // Keep a short log tail behind small snapshots so a lagging follower really needs one.
      config.compactionOverhead = Math.min(config.compactionOverhead, Math.max(1, Math.floor(opts.snapshotThreshold / 4)));
    }

    this.webSocket = opts.peerTransport ? undefined : new WebSocketTransport({
      ...opts.transport,
      ...(opts.runtime && { WebSocket: opts.runtime.WebSocket }),
      logger: this.logger,
      metrics: this.metrics,
      ...(opts.clusterSecret !== undefined && { clusterSecret: opts.clusterSecret }),
    });
    const peerTransport = opts.peerTransport ?? this.webSocket!;
    const faults = opts.faultInjection ? new FaultInjectingTransport(peerTransport) : undefined;
    this.transport = faults ?? peerTransport;
    this.fsm = new MetadataFSM({ logger: this.logger });
    this.raft = new RaftNode(config, this.fsm, {
      storage: opts.storage,
      transport: this.transport,
      logger: this.logger,
      advanceElectionTicks: opts.advanceElectionTicks ?? true,
    });
    this.raft.setBindAddr(this.listen);
    this.metadata = new MetadataStore(this.fsm, this.raft);
    this.clusterStore = new ClusterMetadataStore(this.metadata);
    this.registry = new BrokerRegistry(this.clusterStore, {
      logger: this.logger,
      ...(opts.heartbeatTimeoutMs !== undefined && { heartbeatTimeoutMs: opts.heartbeatTimeoutMs }),
      ...(opts.checkIntervalMs !== undefined && { checkIntervalMs: opts.checkIntervalMs }),
    });
    this.coordinator = new ClusterCoordinator(this.registry, new StickyStrategy(), this.clusterStore, { logger: this.logger });
    installClusterMetrics(this.metrics, { node: this.raft, registry: this.registry, coordinator: this.coordinator, metadata: this.metadata });
    this.app = createAdminRouter({
      node: this.raft,
      metadata: this.metadata,
      registry: this.registry,
      coordinator: this.coordinator,
      metrics: this.metrics,
      memberAddr: (id) => this.addrs.get(id),
      logger: this.logger,
      ...(opts.adminToken !== undefined && { adminToken: opts.adminToken }),
      ...(opts.maxBodyBytes !== undefined && { maxBodyBytes: opts.maxBodyBytes }),
      extend: (app) => {
        if (opts.runtime && this.webSocket) opts.runtime.mountPeerRoute(app, this.webSocket);
        if (faults) mountFaultRoutes(app, faults, opts.adminToken);
      },
    });
  }

  /** The bound HTTP port (after start). */
  get port(): number {
    return this.server?.port ?? parseHostPort(this.listen).port;
  }

  get nodeId(): number {
    return this.opts.nodeId;
  }

  /** Starts Raft, serves HTTP + peer links, then the registry and coordinator. Resolves once serving. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`StreamBusNode ${this.opts.nodeId} was already started`);
    this.state = "running";
    const { host, port } = parseHostPort(this.listen);
    await this.raft.start();
    try {
      const maxPayloadBytes = (this.webSocket?.maxFrameBytes ?? 16 << 20) + 1024;
      if (this.opts.runtime) this.server = await this.opts.runtime.serve(this.app, host, port, { maxPayloadBytes });
    } catch (e) {
      await this.raft.stop().catch(() => {});
      this.state = "stopped";
      throw new Error(`cannot listen on ${this.listen}: ${(e as Error).message}`);
    }
    // The registry's first load needs a leader; it retries on its own, so don't hold readiness for it.
    void this.registry.start().catch((e) => this.logger.warn("registry.start_failed", { error: e }));
    await this.coordinator.start();
    this.logger.info("node.ready", {
      listen: `${host}:${this.server?.port ?? port}`,
      peers: this.opts.peers.map((p) => `${p.id}=${p.addr}`).join(","),
      dataDir: this.opts.dataDir,
      runtime: this.opts.runtime?.name ?? "embedded",
      secret: this.opts.clusterSecret !== undefined,
      adminToken: this.opts.adminToken !== undefined,
    });
  }

  /** Hands leadership over (when leading), stops every component, flushes storage, closes the server. Idempotent. */
  async stop(opts: { transferTimeoutMs?: number } = {}): Promise<void> {
    if (this.state !== "running") return;
    this.state = "stopping";
    if (this.raft.isLeader()) await this.handOver(opts.transferTimeoutMs ?? 3000);
    await this.coordinator.stop().catch(() => {});
    await this.registry.stop().catch(() => {});
    await this.raft.stop().catch((e) => this.logger.error("node.raft_stop_failed", { error: e }));
    await this.server?.close().catch(() => {});
    this.state = "stopped";
    this.logger.info("node.stopped", {});
  }

  private async handOver(timeoutMs: number): Promise<void> {
    const conf = this.raft.status().conf;
    const connected = this.webSocket ? new Set(this.webSocket.connectedPeers()) : undefined;
    const candidates = conf.voters.filter((id) => id !== this.opts.nodeId && (!connected || connected.has(id)));
    const target = candidates[0];
    if (target === undefined) {
      this.logger.info("node.handover_skipped", { reason: "no connected voter" });
      return;
    }
    try {
      await this.raft.transferLeadership(target, { timeoutMs });
      this.logger.info("node.handover", { to: target });
    } catch (e) {
      this.logger.warn("node.handover_failed", { to: target, error: e });
    }
  }
}

/** Adds `term` to each line, read when the line is written. */
function withTerm(base: Logger, term: () => number | undefined): Logger {
  const add = (fields?: LogFields): LogFields => {
    const t = term();
    return t === undefined || (fields && "term" in fields) ? fields ?? {} : { term: t, ...fields };
  };
  return {
    debug: (e, f) => base.debug(e, add(f)),
    info: (e, f) => base.info(e, add(f)),
    warn: (e, f) => base.warn(e, add(f)),
    error: (e, f) => base.error(e, add(f)),
  };
}
