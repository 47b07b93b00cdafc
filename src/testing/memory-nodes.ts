/**
 * StreamBus nodes on memory ports in one process (MemoryNetwork links, memory storage), started and led:
 * the stack the admin API tests and the write-path benchmark run against.
 *
 * @example
 * const { nodes, leader, stop } = await startMemoryNodes(3);
 * await leader().app.request("/v1/brokers", { method: "POST", body: JSON.stringify({ id: 1, host: "h", port: 1 }) });
 */
import { StreamBusNode, type StreamBusNodeOptions } from "../node/streambus-node.ts";
import { memoryStorage } from "./memory-storage.ts";
import { MemoryNetwork } from "./memory-transport.ts";

export interface MemoryNodes {
  nodes: StreamBusNode[];
  net: MemoryNetwork;
  /** The node leading now (throws when none does). */
  leader(): StreamBusNode;
  stop(): Promise<void>;
}

export type MemoryNodeOptions = Partial<Pick<StreamBusNodeOptions, "raft" | "adminToken" | "maxBodyBytes">>;

/** Starts nodes 1..n and resolves once one leads and every node knows it (real time, at most `waitMs`). */
export async function startMemoryNodes(n: number, opts: MemoryNodeOptions = {}, waitMs = 10_000): Promise<MemoryNodes> {
  const net = new MemoryNetwork();
  const peers = Array.from({ length: n }, (_, i) => ({ id: i + 1, addr: `mem${i + 1}:1` }));
  const nodes = peers.map((p) => new StreamBusNode({ ...opts, nodeId: p.id, peers, storage: memoryStorage(), peerTransport: net.transport() }));
  await Promise.all(nodes.map((x) => x.start()));
  const deadline = performance.now() + waitMs;
  while (!(nodes.some((x) => x.raft.isLeader()) && nodes.every((x) => x.raft.leaderId() !== undefined))) {
    if (performance.now() > deadline) {
      await Promise.all(nodes.map((x) => x.stop({ transferTimeoutMs: 0 })));
      throw new Error(`no leader among ${n} memory nodes within ${waitMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    nodes,
    net,
    leader: () => {
      const l = nodes.find((x) => x.raft.isLeader());
      if (!l) throw new Error("no node leads right now");
      return l;
    },
    stop: async () => {
      await Promise.all(nodes.map((x) => x.stop({ transferTimeoutMs: 200 })));
    },
  };
}
