/** An in-process StreamBus cluster on memory ports (MemoryNetwork + memory storage), for admin API tests. */
import { StreamBusNode } from "../../src/node/streambus-node.ts";
import { MemoryNetwork } from "../../src/testing/memory-transport.ts";
import { memoryStorage } from "../../src/testing/memory-storage.ts";
import { waitUntil } from "../helpers/net.ts";

export interface Stack {
  nodes: StreamBusNode[];
  net: MemoryNetwork;
  leader(): StreamBusNode;
  stop(): Promise<void>;
  /** One request to node `i`'s admin app. */
  req(i: number, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
}

/** Starts `n` nodes with fast timeouts and waits until one leads. */
export async function startStack(n: number, opts: { adminToken?: string; maxBodyBytes?: number } = {}): Promise<Stack> {
  const net = new MemoryNetwork();
  const peers = Array.from({ length: n }, (_, i) => ({ id: i + 1, addr: `mem${i + 1}:1` }));
  const nodes = peers.map((p) => new StreamBusNode({
    nodeId: p.id,
    peers,
    storage: memoryStorage(),
    peerTransport: net.transport(),
    raft: { electionTimeout: 300, heartbeatInterval: 50, tickInterval: 10 },
    ...(opts.adminToken !== undefined && { adminToken: opts.adminToken }),
    ...(opts.maxBodyBytes !== undefined && { maxBodyBytes: opts.maxBodyBytes }),
  }));
  await Promise.all(nodes.map((x) => x.start()));
  await waitUntil(() => nodes.some((x) => x.raft.isLeader()) && nodes.every((x) => x.raft.leaderId() !== undefined), "a leader");
  const stack: Stack = {
    nodes,
    net,
    leader: () => nodes.find((x) => x.raft.isLeader())!,
    stop: async () => {
      await Promise.all(nodes.map((x) => x.stop({ transferTimeoutMs: 200 })));
    },
    async req(i, method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
      if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
      const res = await nodes[i]!.app.request(path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch { /* metrics text */ }
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
  return stack;
}
