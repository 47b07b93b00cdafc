/**
 * The driver's address book: where each member can be reached, learned from config.peers, from the
 * addresses carried in ConfChange entries and from snapshots, and kept in step with the transport.
 */
import type { Logger } from "../logger.ts";
import type { Transport } from "../ports/transport.ts";
import { decodeConfChange } from "./codec.ts";
import { allMembers } from "./conf-change.ts";
import type { ConfState, Entry, Peer } from "./types.ts";

export class PeerBook {
  private readonly addrs = new Map<number, string>();
  private readonly linked = new Map<number, string>();

  constructor(private readonly selfId: number, private readonly transport: Transport, private readonly logger: Logger) {}

  set(id: number, addr: string): void {
    this.addrs.set(id, addr);
  }

  get(id: number): string | undefined {
    return this.addrs.get(id);
  }

  /** Records the address of every node a committed ConfChange entry adds. */
  learnFromConfChange(e: Entry): void {
    try {
      for (const ch of decodeConfChange(e.data).changes) {
        if (ch.addr && ch.type !== "removeNode") this.addrs.set(ch.nodeId, ch.addr);
      }
    } catch (err) {
      this.logger.warn("raft.confchange_undecodable", { index: e.index, error: err });
    }
  }

  /** The other members of `conf` with a known address, ascending by id. */
  peers(conf: ConfState): Peer[] {
    return allMembers(conf)
      .filter((id) => id !== this.selfId && this.addrs.has(id))
      .map((id) => ({ id, addr: this.addrs.get(id)! }));
  }

  /** Marks the peers the transport was started with. */
  started(peers: Peer[]): void {
    for (const p of peers) this.linked.set(p.id, p.addr);
  }

  /** Makes the transport's peers equal to the members of `conf` with known addresses. */
  sync(conf: ConfState): void {
    const want = new Map(this.peers(conf).map((p) => [p.id, p.addr]));
    for (const [id, addr] of want) {
      if (this.linked.get(id) === addr) continue;
      this.linked.set(id, addr);
      this.transport.addPeer({ id, addr });
      this.logger.info("raft.peer_added", { peer: id, addr });
    }
    for (const id of [...this.linked.keys()]) {
      if (want.has(id)) continue;
      this.linked.delete(id);
      this.transport.removePeer(id);
      this.logger.info("raft.peer_removed", { peer: id });
    }
  }
}
