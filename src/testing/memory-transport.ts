import type { ClusterIdentity, FrameHandler, Transport } from "../ports/transport.ts";
import { clustersAgree, learnClusterId } from "../raft/cluster-id.ts";
import type { NodeId, Peer } from "../raft/types.ts";
import type { Random } from "../rng.ts";

/** Counters of a MemoryNetwork, for assertions in tests. */
export interface MemoryNetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  /** Frames refused because their two ends belong to different clusters. */
  refused: number;
}

/** Decides per frame whether it passes (true) or is lost (false). */
export type FrameFilter = (from: NodeId, to: NodeId, frame: Uint8Array) => boolean;

/**
 * An in-process network hub for tests. Each `transport()` joins it under the id it is started with.
 * Frames are copied and delivered asynchronously (one microtask per frame, in order per link), so a
 * handler never runs inside the sender's call stack and reentrancy bugs show.
 *
 * Faults: `partition`, `isolate`, `cut` (one direction), `setFilter` (drop by rule), `dropRandomly`, `heal`.
 * Frames crossing a broken link are lost silently (send still returns true, as on a real network);
 * send returns false only when the peer is unknown to the sender or not running, or belongs to another
 * cluster: as over real links, two nodes with different cluster ids never exchange a frame, and a node
 * without one learns the id of the first peer it exchanges a frame with.
 *
 * @example
 * const net = new MemoryNetwork();
 * const a = net.transport(), b = net.transport();
 * await a.start({ id: 1, addr: "m1" }, peers, onFrameA);
 * net.isolate(1); // 1 hears and reaches nobody
 * net.heal();
 */
export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, MemoryTransport>();
  private readonly blocked = new Set<string>();
  private filter: FrameFilter | undefined;
  readonly stats: MemoryNetworkStats = { sent: 0, delivered: 0, dropped: 0, refused: 0 };

  /** A new transport attached to this network (it joins when started). */
  transport(): MemoryTransport {
    return new MemoryTransport(this);
  }

  /** Breaks every link between a node of `a` and a node of `b`, both ways. */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) continue;
        this.blocked.add(key(x, y));
        this.blocked.add(key(y, x));
      }
    }
  }

  /** Cuts `id` off from every other node (present or future), both ways. */
  isolate(id: NodeId): void {
    this.blocked.add(key(id, "*"));
    this.blocked.add(key("*", id));
  }

  /** Breaks the link from `from` to `to` only (an asymmetric fault). */
  cut(from: NodeId, to: NodeId): void {
    this.blocked.add(key(from, to));
  }

  /** Installs a per-frame rule (e.g. a drop rate); undefined removes it. */
  setFilter(filter: FrameFilter | undefined): void {
    this.filter = filter;
  }

  /** Loses each frame with probability `p`, decided by `random` (seeded, so a run replays). */
  dropRandomly(p: number, random: Random): void {
    this.filter = () => !random.chance(p);
  }

  /** Restores every link and removes the filter. */
  heal(): void {
    this.blocked.clear();
    this.filter = undefined;
  }

  /** True when a frame from `from` to `to` would currently get through. */
  connected(from: NodeId, to: NodeId): boolean {
    return !(
      this.blocked.has(key(from, to)) || this.blocked.has(key(from, "*")) || this.blocked.has(key("*", to))
    );
  }

  /** @internal */
  join(id: NodeId, t: MemoryTransport): void {
    const current = this.nodes.get(id);
    if (current && current !== t && current.running) {
      throw new Error(`MemoryNetwork: node ${id} is already running on this network`);
    }
    this.nodes.set(id, t);
  }

  /** @internal */
  leave(id: NodeId, t: MemoryTransport): void {
    if (this.nodes.get(id) === t) this.nodes.delete(id);
  }

  /** @internal Routes one frame; false when the destination is not running. */
  route(from: NodeId, to: NodeId, frame: Uint8Array): boolean {
    const dest = this.nodes.get(to);
    if (!dest || !dest.running) return false;
    if (!sameCluster(this.nodes.get(from), dest)) {
      this.stats.refused++;
      return false;
    }
    this.stats.sent++;
    if (!this.connected(from, to) || (this.filter && !this.filter(from, to, frame))) {
      this.stats.dropped++;
      return true;
    }
    const copy = frame.slice();
    queueMicrotask(() => {
      // The receiver may have stopped (or been replaced by a restarted node) meanwhile.
      if (this.nodes.get(to) !== dest || !dest.running) {
        this.stats.dropped++;
        return;
      }
      this.stats.delivered++;
      dest.deliver(from, copy);
    });
    return true;
  }
}

/** Whether two nodes may exchange frames; one without a cluster id learns the other's (as at a handshake). */
function sameCluster(a: MemoryTransport | undefined, b: MemoryTransport): boolean {
  const x = a?.cluster.clusterId, y = b.cluster.clusterId;
  if (!clustersAgree(x, y)) return false;
  if (x !== undefined) learnClusterId(b.cluster, x);
  else if (y !== undefined && a) learnClusterId(a.cluster, y);
  return true;
}

function key(from: NodeId | "*", to: NodeId | "*"): string {
  return `${from}>${to}`;
}

/** One node's view of a MemoryNetwork; implements the Transport port. */
export class MemoryTransport implements Transport {
  running = false;
  private self: Peer | undefined;
  private readonly peers = new Map<NodeId, Peer>();
  private onFrame: FrameHandler | undefined;
  /** @internal The cluster this node's frames are checked against (see MemoryNetwork). */
  cluster: ClusterIdentity = {};

  constructor(private readonly network: MemoryNetwork) {}

  start(self: Peer, peers: Peer[], onFrame: FrameHandler, cluster: ClusterIdentity = {}): Promise<void> {
    if (this.running) return Promise.reject(new Error(`MemoryTransport: node ${self.id} already started`));
    this.cluster = { ...cluster };
    this.self = self;
    this.onFrame = onFrame;
    this.peers.clear();
    for (const p of peers) if (p.id !== self.id) this.peers.set(p.id, p);
    this.network.join(self.id, this);
    this.running = true;
    return Promise.resolve();
  }

  send(to: NodeId, frame: Uint8Array): boolean {
    if (!this.running || !this.self || !this.peers.has(to)) return false;
    return this.network.route(this.self.id, to, frame);
  }

  addPeer(peer: Peer): void {
    if (this.self && peer.id === this.self.id) return;
    this.peers.set(peer.id, peer);
  }

  removePeer(id: NodeId): void {
    this.peers.delete(id);
  }

  /** Ids this transport can send to, ascending. */
  peerIds(): NodeId[] {
    return [...this.peers.keys()].sort((a, b) => a - b);
  }

  stop(): Promise<void> {
    if (this.running && this.self) this.network.leave(this.self.id, this);
    this.running = false;
    return Promise.resolve();
  }

  /** @internal */
  deliver(from: NodeId, frame: Uint8Array): void {
    if (!this.running || !this.onFrame) return;
    try {
      this.onFrame(from, frame);
    } catch {
      // A handler must not throw; if it does, the network keeps going as a real socket would.
    }
  }
}
