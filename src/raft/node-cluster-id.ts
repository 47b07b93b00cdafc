/** A node's cluster id (cluster-id.ts): loaded or derived at start, learned from a peer, and stored. */
import type { Logger } from "../logger.ts";
import type { Storage } from "../ports/storage.ts";
import { foundingClusterId } from "./cluster-id.ts";
import type { InitialState, RaftConfig } from "./types.ts";

export class NodeClusterId {
  /** Undefined while a joining node (or one with state from before cluster ids) has not heard from a peer. */
  value: string | undefined;

  constructor(private readonly storage: Storage, private readonly logger: Logger) {}

  /**
   * The stored id; else, for a founding member (no state yet, not joining), the id every founding member
   * derives from its peers and token, stored before anything else is written. Otherwise it stays unknown.
   */
  async load(initial: InitialState, config: RaftConfig): Promise<void> {
    this.value = initial.clusterId;
    const fresh = initial.hardState.term === 0 && initial.entries.length === 0 && !initial.snapshot;
    if (this.value !== undefined || !fresh || config.join || config.peers.length === 0) return;
    const id = foundingClusterId(config.peers, config.clusterToken);
    await this.storage.setClusterId?.(id);
    this.value = id;
    this.logger.info("raft.cluster_founded", { clusterId: id });
  }

  /** A peer's handshake told this node its cluster id: keep it from now on. */
  learn(id: string): void {
    if (this.value !== undefined) return;
    this.value = id;
    this.logger.info("raft.cluster_id_learned", { clusterId: id });
    // Losing this write only means learning the id again after a restart: nothing waits on it.
    this.storage.setClusterId?.(id).catch((e) => this.logger.warn("raft.cluster_id_store_failed", { clusterId: id, error: e }));
  }
}
