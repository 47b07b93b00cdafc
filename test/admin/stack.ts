/** An in-process StreamBus cluster on memory ports (MemoryNetwork + memory storage), for admin API tests. */
import type { StreamBusNode } from "../../src/node/streambus-node.ts";
import type { MemoryNetwork } from "../../src/testing/memory-transport.ts";
import { startMemoryNodes } from "../../src/testing/memory-nodes.ts";

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
  const { nodes, net, leader, stop } = await startMemoryNodes(n, { ...opts, raft: { electionTimeout: 300, heartbeatInterval: 50, tickInterval: 10 } });
  const stack: Stack = {
    nodes,
    net,
    leader,
    stop,
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
