/**
 * Fault injection for the fault suite (scripts/chaos.ts): a Transport wrapper that silently drops every
 * frame to and from a chosen set of peers, as a network partition would, while the links themselves stay
 * up. Only built when a node runs with `--fault-injection` (off by default); the node then serves the
 * hidden admin route `POST /debug/partition {"block": [ids]}` (an empty list heals). Never enable it in
 * production: anyone who can reach the admin port (and holds the admin token, if one is set) can cut links.
 *
 * @example
 * const faults = new FaultInjectingTransport(webSocketTransport);
 * faults.block([2, 3]);   // node 2 and 3 no longer hear from us, nor we from them
 * faults.block([]);       // healed
 */
import type { Hono } from "hono";
import { StreamBusError } from "../errors.ts";
import type { ClusterIdentity, FrameHandler, Transport } from "../ports/transport.ts";
import type { NodeId, Peer } from "../raft/types.ts";

export class FaultInjectingTransport implements Transport {
  private blocked = new Set<NodeId>();

  constructor(private readonly inner: Transport) {}

  /** Replaces the set of peers whose frames are dropped (both directions). */
  block(ids: readonly NodeId[]): void {
    this.blocked = new Set(ids);
  }

  /** The peers currently cut off, ascending. */
  blockedPeers(): NodeId[] {
    return [...this.blocked].sort((a, b) => a - b);
  }

  start(self: Peer, peers: Peer[], onFrame: FrameHandler, cluster?: ClusterIdentity): Promise<void> {
    return this.inner.start(self, peers, (from, frame) => {
      if (!this.blocked.has(from)) onFrame(from, frame);
    }, cluster);
  }

  send(to: NodeId, frame: Uint8Array): boolean {
    // A partition loses frames silently: the sender cannot tell, so report success.
    if (this.blocked.has(to)) return true;
    return this.inner.send(to, frame);
  }

  addPeer(peer: Peer): void {
    this.inner.addPeer(peer);
  }

  removePeer(id: NodeId): void {
    this.inner.removePeer(id);
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  onPeerDown(fn: (id: NodeId) => void): () => void {
    return this.inner.onPeerDown?.((id) => fn(id)) ?? (() => {});
  }
}

/**
 * Mounts `POST /debug/partition {"block": [ids]}` (answers `{"blocked": [ids]}`) and `GET /debug/partition`.
 * With an admin token, the POST needs `Authorization: Bearer <token>` like every admin write.
 */
export function mountFaultRoutes(app: Hono, faults: FaultInjectingTransport, adminToken?: string): void {
  app.get("/debug/partition", (c) => c.json({ blocked: faults.blockedPeers() }));
  app.post("/debug/partition", async (c) => {
    if (adminToken !== undefined && c.req.header("authorization") !== `Bearer ${adminToken}`) {
      throw new StreamBusError("Unauthorized", "POST /debug/partition needs the admin token (Authorization: Bearer <token>)");
    }
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      throw new StreamBusError("Invalid", 'body must be JSON: {"block": [node ids]}');
    }
    const ids = (body as { block?: unknown })?.block;
    if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id) && id > 0)) {
      throw new StreamBusError("Invalid", 'body must be {"block": [node ids]} with positive integer ids ([] heals)');
    }
    faults.block(ids as number[]);
    return c.json({ blocked: faults.blockedPeers() });
  });
}
