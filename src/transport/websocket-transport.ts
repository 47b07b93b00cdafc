/**
 * The WebSocket peer transport, runtime-neutral: dials with a web-standard WebSocket client and accepts
 * sockets handed over by a runtime's server (see `accept` and hono-peer-route.ts).
 *
 * One link per peer pair: the node with the lower id dials; if both ends ever dial, the link dialed by
 * the lower id wins. Frames to a peer wait in a bounded queue while its link is connecting or the socket
 * is backed up; a full queue drops the frame and `send` returns false (the driver reports the peer
 * unreachable).
 *
 * @example
 * const t = new WebSocketTransport({ clusterSecret: "s3cret", WebSocket: globalThis.WebSocket });
 * await t.start({ id: 1, addr: "127.0.0.1:19001" }, peers, (from, frame) => raft.receive(from, frame));
 * app.get("/raft", upgradeWebSocket(peerWebSocketEvents(t, remoteAddressOf)));
 */
import { silentLogger } from "../logger.ts";
import { every, systemClock } from "../ports/clock.ts";
import type { ClusterIdentity, FrameHandler, Transport } from "../ports/transport.ts";
import type { NodeId, Peer } from "../raft/types.ts";
import { learnClusterId } from "../raft/cluster-id.ts";
import { backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import { encodeData, importSecret, peerUrl } from "./link-protocol.ts";
import { type LinkHost, type LinkSocket, PeerLink, type RejectReason } from "./peer-link.ts";
import { type TransportCounters, transportCounters } from "./transport-metrics.ts";
import type {
  ClientWebSocket, ClientWebSocketConstructor, TransportStats, WebSocketTransportOptions,
} from "./transport-types.ts";

export type {
  ClientWebSocket, ClientWebSocketConstructor, PeerListener, TransportStats, WebSocketTransportOptions,
} from "./transport-types.ts";

interface PeerEntry {
  peer: Peer;
  queue: Uint8Array[];
  queuedBytes: number;
  attempt: number;
  dialing: PeerLink | undefined;
  retryTimer: unknown;
  flushTimer: unknown;
  everConnected: boolean;
}

export class WebSocketTransport implements Transport {
  private self: Peer | undefined;
  private onFrame: FrameHandler | undefined;
  private cluster: ClusterIdentity = {};
  private running = false;
  private readonly peers = new Map<NodeId, PeerEntry>();
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly pending = new Set<PeerLink>();
  private secretKey: CryptoKey | undefined;
  private server: { close(): Promise<void> } | undefined;
  private stopKeepAlive: (() => void) | undefined;
  private readonly opts: Required<Omit<WebSocketTransportOptions, "clusterSecret" | "listener" | "metrics" | "WebSocket">>;
  private readonly counters: TransportCounters | undefined;
  private readonly host: LinkHost;
  private readonly downListeners = new Set<(id: NodeId) => void>();
  readonly stats: TransportStats = { linksOpen: 0, reconnects: 0, rejected: {}, dropped: 0 };

  constructor(private readonly options: WebSocketTransportOptions = {}) {
    this.opts = {
      maxFrameBytes: options.maxFrameBytes ?? 16 << 20,
      maxQueueFrames: options.maxQueueFrames ?? 4096,
      maxQueueBytes: options.maxQueueBytes ?? 64 << 20,
      maxQueueFramesDown: options.maxQueueFramesDown ?? 256,
      highWaterBytes: options.highWaterBytes ?? 4 << 20,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      pingIntervalMs: options.pingIntervalMs ?? 5000,
      maxPendingLinks: options.maxPendingLinks ?? 256,
      path: options.path ?? "/raft",
      logger: options.logger ?? silentLogger,
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
    };
    if (options.metrics) this.counters = transportCounters(options.metrics, () => this.links.size);
    this.host = this.linkHost();
  }

  /** The path peers dial (mount the accept route there). */
  get path(): string {
    return this.opts.path;
  }

  get maxFrameBytes(): number {
    return this.opts.maxFrameBytes;
  }

  /** Calls `fn` with the peer id whenever an open link to that peer closes (see Transport.onPeerDown). */
  onPeerDown(fn: (id: NodeId) => void): () => void {
    this.downListeners.add(fn);
    return () => this.downListeners.delete(fn);
  }

  /** Ids with an open, authenticated link, ascending. */
  connectedPeers(): NodeId[] {
    return [...this.links.keys()].sort((a, b) => a - b);
  }

  /** The cluster id links are checked against (given to start, or learned from a peer). */
  get clusterId(): string | undefined {
    return this.cluster.clusterId;
  }

  async start(self: Peer, peers: Peer[], onFrame: FrameHandler, cluster: ClusterIdentity = {}): Promise<void> {
    if (this.running) throw new Error(`transport for node ${self.id} already started`);
    this.cluster = { ...cluster };
    this.secretKey = this.options.clusterSecret ? await importSecret(this.options.clusterSecret) : undefined;
    this.self = self;
    this.onFrame = onFrame;
    this.running = true;
    if (this.options.listener) {
      try {
        this.server = await this.options.listener.listen(self, this);
      } catch (e) {
        this.running = false;
        throw e;
      }
    }
    for (const p of peers) this.addPeer(p);
    this.stopKeepAlive = every(this.opts.clock, this.opts.pingIntervalMs, () => this.keepAlive());
  }

  send(to: NodeId, frame: Uint8Array): boolean {
    const entry = this.peers.get(to);
    if (!this.running || !entry) return this.drop("unknown_peer");
    if (frame.length > this.opts.maxFrameBytes) return this.drop("too_large");
    const link = this.links.get(to);
    if (link && entry.queue.length === 0 && link.socket.bufferedAmount() < this.opts.highWaterBytes) {
      return this.write(link, frame);
    }
    const limit = link ? this.opts.maxQueueFrames : this.opts.maxQueueFramesDown;
    if (entry.queue.length >= limit || entry.queuedBytes + frame.length > this.opts.maxQueueBytes) {
      return this.drop("queue_full");
    }
    // Copy: the caller may reuse its buffer before the queue drains.
    entry.queue.push(encodeData(frame));
    entry.queuedBytes += frame.length;
    if (link) this.scheduleFlush(entry, 2);
    return true;
  }

  addPeer(peer: Peer): void {
    if (!this.self || peer.id === this.self.id) return;
    const existing = this.peers.get(peer.id);
    if (existing) {
      if (existing.peer.addr === peer.addr) return;
      existing.peer = peer;
      // A moved peer: drop the old outbound attempt and dial the new address.
      existing.dialing?.close(1001, "peer address changed");
      this.opts.clock.clearTimeout(existing.retryTimer);
      existing.attempt = 0;
      this.dial(existing);
      return;
    }
    const entry: PeerEntry = {
      peer, queue: [], queuedBytes: 0, attempt: 0, dialing: undefined, retryTimer: undefined, flushTimer: undefined,
      everConnected: false,
    };
    this.peers.set(peer.id, entry);
    this.dial(entry);
    // A link the peer dialed before we knew it may already be open.
    if (this.links.has(peer.id)) this.scheduleFlush(entry, 0);
  }

  removePeer(id: NodeId): void {
    const entry = this.peers.get(id);
    if (!entry) return;
    this.peers.delete(id);
    this.opts.clock.clearTimeout(entry.retryTimer);
    this.opts.clock.clearTimeout(entry.flushTimer);
    entry.dialing?.close(1001, "peer removed");
    this.links.get(id)?.close(1001, "peer removed");
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopKeepAlive?.();
    for (const entry of this.peers.values()) {
      this.opts.clock.clearTimeout(entry.retryTimer);
      this.opts.clock.clearTimeout(entry.flushTimer);
      entry.queue = [];
      entry.queuedBytes = 0;
    }
    for (const link of [...this.links.values(), ...this.pending]) link.close(1001, "node stopping");
    this.links.clear();
    this.pending.clear();
    this.peers.clear();
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /**
   * Takes over a socket a peer opened to us (after the HTTP upgrade). Feed it the socket's messages and
   * its close; it runs the acceptor side of the handshake.
   */
  accept(socket: LinkSocket, remoteAddress: string | undefined): { message(data: unknown): void; closed(code?: number, reason?: string): void } {
    if (!this.running || !this.self) {
      try {
        socket.close(1001, "node not running");
      } catch { /* closing anyway */ }
      return { message() {}, closed() {} };
    }
    if (this.pending.size >= this.opts.maxPendingLinks) {
      try {
        socket.close(1013, "too many links in handshake; try again later");
      } catch { /* closing anyway */ }
      return { message() {}, closed() {} };
    }
    const link = new PeerLink(this.host, socket, "acceptor", undefined, remoteAddress);
    this.pending.add(link);
    return { message: (data) => link.receive(data), closed: (code, reason) => link.closed(code, reason) };
  }

  /** The link's view of this transport. */
  private linkHost(): LinkHost {
    const t = this;
    return {
      get selfId() {
        return t.self?.id ?? 0;
      },
      get secretKey() {
        return t.secretKey;
      },
      get maxFrameBytes() {
        return t.opts.maxFrameBytes;
      },
      get handshakeTimeoutMs() {
        return t.opts.handshakeTimeoutMs;
      },
      clusterId: () => t.cluster.clusterId,
      learnClusterId: (id) => {
        if (learnClusterId(t.cluster, id)) t.opts.logger.info("transport.cluster_id_learned", { clusterId: id });
      },
      now: () => t.opts.clock.now(),
      setTimer: (fn, ms) => t.opts.clock.setTimeout(fn, ms),
      clearTimer: (h) => t.opts.clock.clearTimeout(h),
      linkReady: (link) => t.linkReady(link),
      linkClosed: (link, code, reason) => t.linkClosed(link, code, reason),
      data: (link, payload) => t.deliver(link, payload),
      rejected: (link, reason, message) => t.rejected(link, reason, message),
    };
  }

  private dial(entry: PeerEntry): void {
    const self = this.self;
    if (!this.running || !self || self.id > entry.peer.id || !entry.peer.addr || entry.dialing) return;
    if (this.peers.get(entry.peer.id) !== entry) return;
    const Ctor = this.options.WebSocket ?? (globalThis as { WebSocket?: ClientWebSocketConstructor }).WebSocket;
    if (!Ctor) throw new Error("no WebSocket client available: pass options.WebSocket");
    if (entry.attempt > 0 || entry.everConnected) {
      this.stats.reconnects++;
      this.counters?.reconnects.inc({ peer: entry.peer.id });
    }
    let ws: ClientWebSocket;
    try {
      ws = new Ctor(peerUrl(entry.peer.addr, this.opts.path));
    } catch (e) {
      this.opts.logger.warn("transport.dial_failed", { peer: entry.peer.id, addr: entry.peer.addr, error: (e as Error).message });
      this.scheduleRetry(entry);
      return;
    }
    ws.binaryType = "arraybuffer";
    const socket: LinkSocket = {
      send: (bytes) => ws.send(bytes),
      close: (code, reason) => ws.close(code, reason),
      bufferedAmount: () => ws.bufferedAmount ?? 0,
    };
    const link = new PeerLink(this.host, socket, "dialer", entry.peer.id, entry.peer.addr);
    entry.dialing = link;
    this.pending.add(link);
    ws.onopen = () => link.opened();
    ws.onmessage = (ev) => link.receive(ev.data);
    ws.onclose = (ev) => link.closed(ev.code, ev.reason);
    ws.onerror = () => {
      // A close event follows; nothing to do here.
    };
  }

  /** Pings open links and closes those silent for three periods (a peer that vanished without a FIN). */
  private keepAlive(): void {
    const silentFor = 3 * this.opts.pingIntervalMs;
    const now = this.opts.clock.now();
    for (const link of [...this.links.values()]) {
      if (now - link.lastReceived > silentFor) {
        this.opts.logger.warn("transport.link_silent", { peer: link.peerId, silentMs: Math.round(now - link.lastReceived) });
        link.close(1001, "no frames from the peer for too long");
      } else {
        link.ping();
      }
    }
  }

  private scheduleRetry(entry: PeerEntry): void {
    if (!this.running || this.peers.get(entry.peer.id) !== entry) return;
    this.opts.clock.clearTimeout(entry.retryTimer);
    const delay = backoffDelay(entry.attempt++, this.opts.backoff, this.opts.random);
    entry.retryTimer = this.opts.clock.setTimeout(() => this.dial(entry), delay);
  }

  private linkReady(link: PeerLink): string | undefined {
    this.pending.delete(link);
    const id = link.peerId!;
    if (!this.running) return "node stopping";
    const existing = this.links.get(id);
    if (existing && existing !== link) {
      const preferred = Math.min(id, this.self!.id);
      if (existing.dialerId === preferred && link.dialerId !== preferred) return "duplicate link";
      this.links.delete(id);
      existing.close(1000, "replaced by a newer link");
    }
    this.links.set(id, link);
    this.stats.linksOpen = this.links.size;
    this.counters?.linkChanges.inc({ change: "up" });
    const entry = this.peers.get(id);
    if (entry) {
      entry.attempt = 0;
      entry.everConnected = true;
      this.scheduleFlush(entry, 0);
    }
    this.opts.logger.info("transport.link_up", { peer: id, role: link.role });
    return undefined;
  }

  private linkClosed(link: PeerLink, code: number, reason: string): void {
    this.pending.delete(link);
    const id = link.peerId;
    const entry = id === undefined ? undefined : this.peers.get(id);
    if (id !== undefined && this.links.get(id) === link) {
      this.links.delete(id);
      this.stats.linksOpen = this.links.size;
      this.counters?.linkChanges.inc({ change: "down" });
      if (this.running) this.opts.logger.info("transport.link_down", { peer: id, code, reason });
      // (A link replaced by a newer one never gets here: linkReady swaps the new one in first.)
      if (this.running) {
        for (const fn of this.downListeners) {
          try {
            fn(id);
          } catch (e) {
            this.opts.logger.warn("transport.listener_failed", { peer: id, error: e });
          }
        }
      }
    }
    if (entry && entry.dialing === link) {
      entry.dialing = undefined;
      if (this.running) this.scheduleRetry(entry);
    }
  }

  private deliver(link: PeerLink, payload: Uint8Array): void {
    const id = link.peerId!;
    this.counters?.framesReceived.inc({ peer: id });
    this.counters?.bytesReceived.inc({ peer: id }, payload.length);
    if (!this.running || this.links.get(id) !== link) return;
    try {
      this.onFrame?.(id, payload);
    } catch (e) {
      this.opts.logger.error("transport.handler_threw", { peer: id, error: e });
    }
  }

  private rejected(link: PeerLink, reason: RejectReason, message: string): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.counters?.rejected.inc({ reason });
    this.opts.logger.warn("transport.link_rejected", {
      peer: link.peerId, remote: link.remoteAddress, role: link.role, reason, message,
    });
  }

  private write(link: PeerLink, frame: Uint8Array): boolean {
    try {
      link.sendFrame(encodeData(frame));
    } catch {
      return this.drop("send_failed");
    }
    this.counters?.framesSent.inc({ peer: link.peerId! });
    this.counters?.bytesSent.inc({ peer: link.peerId! }, frame.length);
    return true;
  }

  private scheduleFlush(entry: PeerEntry, ms: number): void {
    if (entry.flushTimer !== undefined) return;
    entry.flushTimer = this.opts.clock.setTimeout(() => {
      entry.flushTimer = undefined;
      this.flush(entry);
    }, ms);
  }

  private flush(entry: PeerEntry): void {
    const link = this.links.get(entry.peer.id);
    if (!this.running || !link || this.peers.get(entry.peer.id) !== entry) return;
    while (entry.queue.length > 0 && link.socket.bufferedAmount() < this.opts.highWaterBytes) {
      const tagged = entry.queue.shift()!;
      entry.queuedBytes -= tagged.length - 1;
      try {
        link.sendFrame(tagged);
      } catch {
        this.drop("send_failed");
        continue;
      }
      this.counters?.framesSent.inc({ peer: entry.peer.id });
      this.counters?.bytesSent.inc({ peer: entry.peer.id }, tagged.length - 1);
    }
    if (entry.queue.length > 0) this.scheduleFlush(entry, 5);
  }

  private drop(reason: string): false {
    this.stats.dropped++;
    this.counters?.dropped.inc({ reason });
    return false;
  }
}
