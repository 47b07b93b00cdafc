import type { NodeId, Peer } from "../raft/types.ts";

/** Receives one frame from a peer. `from` is the id the link proved (or, without a secret, claimed). */
export type FrameHandler = (from: NodeId, frame: Uint8Array) => void;

/**
 * Which cluster the node belongs to. Links between nodes of two different clusters are refused, so a node
 * pointed at the wrong peers (or started on another cluster's data) cannot disturb either cluster.
 */
export interface ClusterIdentity {
  /** This node's cluster id; undefined while unknown (a joining node, or state from before cluster ids). */
  clusterId?: string;
  /** Called once when a node without an id learns it from a peer's handshake; it should store it. */
  onClusterId?: (id: string) => void;
}

/**
 * Peer-to-peer links carrying opaque binary frames (the driver puts Raft messages and RPCs in them).
 * Delivery is best effort and ordered per link; frames may be lost when a link drops.
 */
export interface Transport {
  /**
   * Starts listening as `self` and connecting to `peers` (self may be among them; it is skipped). With
   * `cluster`, links to and from nodes of another cluster are refused, and an unknown id is learned from
   * the first peer that presents one.
   */
  start(self: Peer, peers: Peer[], onFrame: FrameHandler, cluster?: ClusterIdentity): Promise<void>;
  /**
   * Queues a frame for a peer. Returns false when it was dropped (unknown peer, full queue, link down):
   * the driver then reports the peer unreachable to Raft.
   */
  send(to: NodeId, frame: Uint8Array): boolean;
  /** Adds or updates a peer's address (membership changes). */
  addPeer(peer: Peer): void;
  removePeer(id: NodeId): void;
  stop(): Promise<void>;
  /**
   * Optional: calls `fn` when the open link to a peer closes (the peer's process died, or the link broke).
   * The driver uses it to notice a dead leader long before an election timeout. Returns an unsubscribe.
   */
  onPeerDown?(fn: (id: NodeId) => void): () => void;
}
