// End to end with real processes on loopback: three Bun nodes started with the node command.
import { afterEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { foundingClusterId } from "../../src/raft/cluster-id.ts";
import { freePort, http, NodeProc, ProcCluster, waitFor } from "./harness.ts";
import { failover, registerAndCreateTopic } from "./scenarios.ts";

let cluster: ProcCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

async function withLogs<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    console.log(cluster?.logs());
    throw e;
  }
}

test("three Bun nodes: kill -9 the leader, nothing acknowledged is lost, the node restarts and catches up from a snapshot", async () => {
  cluster = await ProcCluster.create({ runtimes: ["bun", "bun", "bun"], extraArgs: ["--snapshot-threshold", "16", "--snapshot-log-ratio", "0"] });
  await cluster.start();
  const { snapshotInstalled } = await withLogs(() => failover(cluster!, { writesWhileDown: 40 }));
  expect(snapshotInstalled).toBe(true);
}, 90_000);

test("graceful stop: SIGTERM on the leader hands leadership over and exits 0", async () => {
  cluster = await ProcCluster.create({ runtimes: ["bun", "bun", "bun"] });
  await cluster.start();
  await withLogs(async () => {
    const leader = await cluster!.leader();
    const code = await leader.kill("SIGTERM");
    expect(code).toBe(0);
    expect(leader.lines.some((l) => l.includes('"node.handover"'))).toBe(true);
    const next = await cluster!.leader(5000);
    expect(next.id).not.toBe(leader.id);
    const r = await http(next.port, "POST", "/v1/brokers", { id: 9, host: "h", port: 1 });
    expect(r.status).toBe(201);
  });
}, 60_000);

test("cluster secret and admin token: the cluster forms, writes need the token, garbage on /raft is refused and counted", async () => {
  cluster = await ProcCluster.create({ runtimes: ["bun", "bun", "bun"], extraArgs: ["--cluster-secret", "e2e-secret", "--admin-token", "tok"] });
  await cluster.start();
  await withLogs(async () => {
    const leader = await cluster!.leader();
    const denied = await http(leader.port, "POST", "/v1/brokers", { id: 1, host: "h", port: 1 });
    expect(denied.status).toBe(401);
    const ok = await http(leader.port, "POST", "/v1/brokers", { id: 1, host: "h", port: 1 }, { authorization: "Bearer tok" });
    expect(ok.status).toBe(201);
    // Garbage on the peer WebSocket closes that socket, is counted, and the node keeps serving.
    const code = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${leader.port}/raft`);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => ws.send(new Uint8Array([0x99, 0, 1]));
      ws.onclose = (e) => resolve(e.code);
    });
    expect(code).toBe(1002);
    const metrics = await http(leader.port, "GET", "/metrics");
    expect(String(metrics.body)).toContain('streambus_transport_rejected_frames_total{reason="malformed"} 1');
    const again = await http(leader.port, "POST", "/v1/brokers", { id: 2, host: "h2", port: 1 }, { authorization: "Bearer tok" });
    expect(again.status).toBe(201);
  });
}, 60_000);

test("bad flags: one-line reason and a non-zero exit", async () => {
  cluster = await ProcCluster.create({ runtimes: ["bun"], extraArgs: ["--peers", "nonsense"] });
  const n = cluster.nodes[0]!;
  n.start();
  const deadline = Date.now() + 15_000;
  while (n.exitCode === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(n.exitCode).not.toBe(0);
  expect(n.exitCode).not.toBeUndefined();
  expect(n.lines.length).toBe(1);
  expect(n.lines[0]).toContain("--peers");
}, 30_000);

test("a mixed cluster: one Bun, one Deno and one Node process form one cluster", async () => {
  const { buildNodeEntry } = await import("./harness.ts");
  buildNodeEntry(".tmp/e2e/node.js");
  cluster = await ProcCluster.create({ runtimes: ["bun", "deno", "node"], nodeEntry: ".tmp/e2e/node.js", extraArgs: ["--cluster-secret", "mixed"] });
  await cluster.start();
  await withLogs(async () => {
    await registerAndCreateTopic(cluster!);
    // Leadership moves across runtimes: stop the leader, the other two elect one and keep serving.
    const leader = await cluster!.leader();
    expect(await leader.kill("SIGTERM")).toBe(0);
    const next = await cluster!.leader(10_000);
    const r = await http(next.port, "POST", "/v1/brokers", { id: 50, host: "h", port: 1 });
    expect(r.status).toBe(201);
  });
}, 90_000);

test("growing a running cluster: POST /v1/cluster/members, then the new node starts with --join and catches up", async () => {
  cluster = await ProcCluster.create({ runtimes: ["bun", "bun", "bun"] });
  await cluster.start();
  await withLogs(async () => {
    const leader = await cluster!.leader();
    expect((await http(leader.port, "POST", "/v1/brokers", { id: 5, host: "h", port: 1 })).status).toBe(201);
    const port = await freePort();
    const follower = cluster!.nodes.find((n) => n.id !== leader.id)!;
    const added = await http(follower.port, "POST", "/v1/cluster/members", { id: 4, addr: `127.0.0.1:${port}` });
    expect(added.status).toBe(201);
    const joiner = new NodeProc({
      id: 4, runtime: "bun", port, peers: `${cluster!.nodes[0]!.o.peers},4=127.0.0.1:${port}`,
      dataDir: join(cluster!.root, "node-4"), extraArgs: ["--join"],
    });
    cluster!.nodes.push(joiner); // destroy() stops it too
    joiner.start();
    await joiner.ready();
    // Linearizable reads on the new node see what was written before it existed, and writes go on.
    await waitFor(async () => (await http(port, "GET", "/v1/brokers/5")).status === 200, "broker 5 on node 4");
    expect((await http(port, "POST", "/v1/brokers", { id: 6, host: "h", port: 2 })).status).toBe(201);
    const view = await http(port, "GET", "/v1/cluster");
    expect(view.body.nodes.map((n: { id: number }) => n.id)).toEqual([1, 2, 3, 4]);
    // The joiner learned the cluster's id from its peers and stored it.
    expect(view.body.clusterId).toBe((await http(leader.port, "GET", "/v1/cluster")).body.clusterId);
    expect(existsSync(join(cluster!.root, "node-4", "cluster"))).toBe(true);
    expect(view.body.nodes.find((n: { id: number }) => n.id === 4).addr).toBe(`127.0.0.1:${port}`);
  });
}, 90_000);

test("a node of another cluster is refused: every link checks the cluster id that GET /v1/cluster reports", async () => {
  cluster = await ProcCluster.create({ runtimes: ["bun", "bun", "bun"] });
  await cluster.start();
  await withLogs(async () => {
    const leader = await cluster!.leader();
    const ids = await Promise.all(cluster!.nodes.map(async (n) => (await http(n.port, "GET", "/v1/cluster")).body.clusterId));
    expect(ids[0]).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(1);
    // A stranger founding a cluster of its own under node 1's id, with node 2 as its peer: it dials node 2
    // (the lower id dials), and node 2 must not take it for its own node 1.
    const target = cluster!.nodes[1]!;
    const port = await freePort();
    const stranger = new NodeProc({
      id: 1, runtime: "bun", port, peers: `1=127.0.0.1:${port},2=127.0.0.1:${target.port}`,
      dataDir: join(cluster!.root, "stranger"), extraArgs: ["--cluster-token", "another"],
    });
    cluster!.nodes.push(stranger); // destroy() stops it too
    stranger.start();
    await stranger.ready();
    await waitFor(() => target.lines.some((l) => l.includes('"reason":"wrong-cluster"')), "node 2 to refuse the stranger's link");
    // Its id comes from its own --peers and --cluster-token.
    const strangerPeers = [{ id: 1, addr: `127.0.0.1:${port}` }, { id: 2, addr: `127.0.0.1:${target.port}` }];
    // (A stale read: the stranger's cluster of two, with node 2 refusing it, never elects a leader.)
    const strangerId = (await http(port, "GET", "/v1/cluster?consistency=stale")).body.clusterId;
    expect(strangerId).toBe(foundingClusterId(strangerPeers, "another"));
    expect(strangerId).not.toBe(foundingClusterId(strangerPeers));
    expect(strangerId).not.toBe(ids[0]);
    expect((await http(leader.port, "POST", "/v1/brokers", { id: 7, host: "h", port: 7 })).status).toBe(201);
    const metrics = await http(target.port, "GET", "/metrics");
    expect(String(metrics.body)).toMatch(/streambus_transport_rejected_frames_total\{reason="wrong-cluster"\} [1-9]/);
  });
}, 60_000);
