// Fast failover with real processes: after kill -9 of the leader, the followers see their link to it drop,
// forget it and elect a new leader through PreVote well before an election timeout (1500 ms by default,
// randomized in [1500, 3000) ms) could fire.
import { afterEach, expect, test } from "bun:test";
import { http, ProcCluster, waitFor } from "./harness.ts";

let cluster: ProcCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

test("kill -9 the leader: a new leader is elected before the election timeout, on a dropped link alone", async () => {
  cluster = await ProcCluster.create({ runtimes: ["bun", "bun", "bun"] });
  await cluster.start();
  try {
    const leader = await cluster.leader();
    const r = await http(leader.port, "POST", "/v1/brokers", { id: 1, host: "h", port: 1 });
    expect(r.status).toBe(201);
    const t0 = performance.now();
    await leader.kill("SIGKILL");
    const next = await cluster.leader(10_000);
    const elapsed = performance.now() - t0;
    expect(next.id).not.toBe(leader.id);
    // The followers noticed through the transport, not through a timeout.
    const survivors = cluster.running();
    await waitFor(() => survivors.some((n) => n.lines.some((l) => l.includes('"raft.leader_link_down"'))), "a leader_link_down log line", 5000);
    // A plain follower timeout cannot fire within 1500 ms of the last heartbeat; generous for a busy machine.
    expect(elapsed).toBeLessThan(1500);
    const w = await http(next.port, "POST", "/v1/brokers", { id: 2, host: "h", port: 2 });
    expect(w.status).toBe(201);
  } catch (e) {
    console.log(cluster.logs());
    throw e;
  }
}, 60_000);
