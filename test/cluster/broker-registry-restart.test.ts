// Found by the fault suite (scripts/chaos.ts): after a whole-cluster restart the registry's cache stays empty
// until its first load succeeds, which needs a leader; a read served after a read barrier in that window
// answered 404 for a registered broker. Until the first load, reads go to the store.
import { expect, test } from "bun:test";
import { BrokerRegistry } from "../../src/cluster/broker-registry.ts";
import { FakeCluster } from "../../src/testing/fake-cluster-store.ts";
import { ManualClock } from "../../src/testing/manual-clock.ts";
import { broker, expectCode } from "./helpers.ts";

test("before its first load, the registry answers from the store once a leader is there", async () => {
  const cluster = new FakeCluster([1, 2], { leader: 1 });
  const clock = new ManualClock();
  await cluster.node(1).storeBrokerMetadata(broker(5));
  cluster.setLeader(undefined);
  const r = new BrokerRegistry(cluster.node(2), { clock });
  await r.start(); // the load fails: no leader yet
  cluster.setLeader(1); // elected, but the registry's next load is a check interval away
  expect((await r.getBroker(5, { consistency: "stale" })).id).toBe(5);
  expect((await r.listBrokers({ consistency: "stale" })).map((b) => b.id)).toEqual([5]);
  await expectCode(r.getBroker(6, { consistency: "stale" }), "NotFound");
  await r.stop();
});
