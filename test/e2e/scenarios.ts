/**
 * End-to-end scenarios over real node processes, shared by the bun:test suite (test/e2e) and the Deno and
 * Node smoke scripts (test/runtimes/*). Each throws with the cluster's recent logs on failure.
 */
import { http, type NodeProc, type ProcCluster, waitFor } from "./harness.ts";

function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** Brokers 1..n registered (each through a different node), heartbeated to ALIVE, and a topic created on a follower. */
export async function registerAndCreateTopic(cluster: ProcCluster): Promise<{ leader: NodeProc }> {
  const leader = await cluster.leader();
  const nodes = cluster.running();
  for (const [i, n] of nodes.entries()) {
    const id = i + 1;
    const r = await http(n.port, "POST", "/v1/brokers", { id, host: `broker-${id}`, port: 9092, rack: `rack-${id}`, tags: { zone: `z${id}` } });
    check(r.status === 201, `register broker ${id} on node ${n.id}: ${r.status} ${JSON.stringify(r.body)}`);
    check(r.body.epoch === 1 && r.body.tags?.zone === `z${id}`, `broker ${id} came back as ${JSON.stringify(r.body)}`);
  }
  // Re-registration is an upsert: 200 and a new epoch.
  const again = await http(nodes[0]!.port, "POST", "/v1/brokers", { id: 1, host: "broker-1", port: 9092, rack: "rack-1" });
  check(again.status === 200 && again.body.epoch === 2, `re-register: ${again.status} ${JSON.stringify(again.body)}`);
  for (const [i, n] of nodes.entries()) {
    const r = await http(n.port, "POST", `/v1/brokers/${nodes.length - i}/heartbeat`, {});
    check(r.status === 200, `heartbeat via node ${n.id}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  await waitFor(async () => {
    const r = await http(leader.port, "GET", "/v1/brokers");
    return r.status === 200 && r.body.brokers.length === nodes.length && r.body.brokers.every((b: { status: string }) => b.status === "ALIVE");
  }, "every broker ALIVE");
  const follower = nodes.find((n) => n.id !== leader.id) ?? leader;
  const t = await http(follower.port, "POST", "/v1/topics", { name: "events", partitions: 6, replicationFactor: Math.min(3, nodes.length) });
  check(t.status === 201, `create topic via follower ${follower.id}: ${t.status} ${JSON.stringify(t.body)}`);
  check(t.body.assignment.partitions.length === 6, `assignment of ${JSON.stringify(t.body.assignment)}`);
  const dup = await http(leader.port, "POST", "/v1/topics", { name: "events", partitions: 1, replicationFactor: 1 });
  check(dup.status === 409 && dup.body.error.code === "Conflict", `duplicate topic: ${dup.status} ${JSON.stringify(dup.body)}`);
  for (const n of nodes) {
    const r = await http(n.port, "GET", "/v1/topics/events");
    check(r.status === 200 && r.body.partitions.length === 6, `topic on node ${n.id}: ${r.status} ${JSON.stringify(r.body)}`);
    check(r.body.partitions.every((p: { replicas: number[]; isr: number[] }) => p.replicas.length === Math.min(3, nodes.length) && Array.isArray(p.isr)), "partition shape");
  }
  return { leader };
}

/** Registers brokers `from..to-1` through `node`, returning the ids whose write was acknowledged. */
export async function ackedWrites(node: NodeProc, from: number, to: number): Promise<number[]> {
  const acked: number[] = [];
  for (let id = from; id < to; id++) {
    const r = await http(node.port, "POST", "/v1/brokers", { id, host: `w-${id}`, port: 9000 + (id % 1000) });
    if (r.status === 200 || r.status === 201) acked.push(id);
  }
  return acked;
}

/** Every id in `ids` is listed by `node` (linearizable unless stale). */
export async function hasAll(node: NodeProc, ids: number[], stale = false): Promise<boolean> {
  const r = await http(node.port, "GET", `/v1/brokers${stale ? "?consistency=stale" : ""}`);
  if (r.status !== 200) return false;
  const have = new Set(r.body.brokers.map((b: { id: number }) => b.id));
  return ids.every((id) => have.has(id));
}

/** A Prometheus sample value (first series matching the name and label text), or undefined. */
export function metricValue(text: string, name: string, labels = ""): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    if (line.startsWith(name + (labels ? `{${labels}}` : " ")) || (!labels && line.startsWith(name + "{"))) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return undefined;
}

/**
 * The failover scenario of the runtimes issue: writes acknowledged, kill -9 the leader, a new leader serves
 * and loses nothing, more writes while the old leader is down (enough to compact the log), then the killed
 * node restarts and catches up.
 */
export async function failover(cluster: ProcCluster, opts: { writesWhileDown: number }): Promise<{ snapshotInstalled: boolean }> {
  const { leader } = await registerAndCreateTopic(cluster);
  const follower = cluster.running().find((n) => n.id !== leader.id)!;
  const before = await ackedWrites(follower, 100, 120);
  check(before.length === 20, `only ${before.length}/20 writes acknowledged before the failover`);

  // A writer keeps going through the kill; whatever it got acknowledged must survive.
  let writing = true;
  const racing: number[] = [];
  const writer = (async () => {
    for (let id = 1000; writing; id++) {
      const r = await http(follower.port, "POST", "/v1/brokers", { id, host: `race-${id}`, port: 9000 });
      if (r.status === 200 || r.status === 201) racing.push(id);
    }
  })();
  await waitFor(() => racing.length >= 3, "the racing writer to get going");
  await leader.kill("SIGKILL");
  const next = await cluster.leader(20_000);
  check(next.id !== leader.id, "the killed node is still the leader");
  const during = await ackedWrites(next, 200, 200 + opts.writesWhileDown);
  writing = false;
  await writer;
  check(during.length === opts.writesWhileDown, `only ${during.length}/${opts.writesWhileDown} writes acknowledged after the failover`);
  for (const n of cluster.running()) {
    check(await hasAll(n, [...before, ...racing, ...during]), `node ${n.id} lost acknowledged writes`);
  }
  const topic = await http(next.port, "GET", "/v1/topics/events");
  check(topic.status === 200, `topic after failover: ${topic.status}`);

  leader.start();
  await leader.ready();
  await waitFor(() => hasAll(leader, [1, 2, 3, ...before, ...racing, ...during], true), `restarted node ${leader.id} to catch up`, 20_000);
  const metrics = await http(leader.port, "GET", "/metrics");
  const installed = metricValue(String(metrics.body), "streambus_raft_snapshots_total", 'kind="installed"') ?? 0;
  const h = await http(leader.port, "GET", "/health");
  check(h.status === 200 && h.body.leaderId !== null, `restarted node health ${JSON.stringify(h.body)}`);
  return { snapshotInstalled: installed > 0 };
}
