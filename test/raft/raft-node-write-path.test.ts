// The driver's write-path optimisations keep Raft's promises: a leader sends appends before its own write
// but acknowledges a proposal only once that write is durable; read barriers issued together share one
// ReadIndex.
import { afterEach, expect, test } from "bun:test";
import { TestCluster } from "../../src/testing/raft-cluster.ts";
import { CountFsm } from "./count-fsm.ts";

const enc = (s: string) => new TextEncoder().encode(s);

let cluster: TestCluster<CountFsm> | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function threeNodes() {
  cluster = new TestCluster({ size: 3, fsm: () => new CountFsm(), seed: 7 });
  await cluster.start();
  const leader = await cluster.waitForLeader();
  await cluster.settle(leader.node.propose(enc("warm-up")));
  return { c: cluster, leader };
}

/** Holds every append of `storage` until release() is called. */
function gateAppends(storage: { append: (e: never[]) => Promise<void> }) {
  const original = storage.append.bind(storage);
  const held: (() => void)[] = [];
  let open = false;
  storage.append = (entries: never[]) => {
    if (open) return original(entries);
    return new Promise<void>((resolve, reject) => held.push(() => original(entries).then(resolve, reject)));
  };
  return {
    held: () => held.length,
    release() {
      open = true;
      for (const go of held.splice(0)) go();
    },
    /** Holds appends again from now on. */
    close() {
      open = false;
    },
  };
}

test("a leader replicates before its own write lands, but acknowledges only after it", async () => {
  const { c, leader } = await threeNodes();
  const followers = c.running().filter((m) => m.id !== leader.id);
  const before = await leader.storage.lastIndex();
  const gate = gateAppends(leader.storage as never);
  let settled = false;
  const p = leader.node.propose(enc("x")).finally(() => (settled = true));
  // Both followers persist the entry while the leader's own append is still held.
  await c.until(() => gate.held() > 0, "the leader's append to start");
  const followerLast = () => Promise.all(followers.map((f) => f.storage.lastIndex()));
  let last = await followerLast();
  for (let i = 0; i < 100 && !last.every((l) => l > before); i++) {
    await c.clock.advanceAsync(10);
    last = await followerLast();
  }
  expect(last.every((l) => l > before)).toBe(true);
  await c.clock.advanceAsync(200);
  expect(settled).toBe(false); // a majority of followers holds it, but the leader's copy is not durable yet
  gate.release();
  const r = await c.settle(p);
  expect(r.index).toBe(before + 1);
});

test("a write committed in an earlier round is acknowledged while the leader's next write is still in flight", async () => {
  const { c, leader } = await threeNodes();
  const gate = gateAppends(leader.storage as never);
  const before = await leader.storage.lastIndex();
  let firstDone = false;
  const first = leader.node.propose(enc("first")).finally(() => (firstDone = true));
  await c.until(() => gate.held() > 0, "the leader's append of the first entry to start");
  // The second waits for the first round to commit, then goes out in the Ready that commits the first;
  // the leader's write of that Ready (the second entry) is held.
  let secondDone = false;
  const second = leader.node.propose(enc("second")).finally(() => (secondDone = true));
  gate.release();
  gate.close();
  await c.until(() => firstDone, "the first write to be acknowledged");
  expect((await first).index).toBe(before + 1);
  expect(gate.held()).toBeGreaterThan(0); // the second entry's write on the leader is still held
  await c.clock.advanceAsync(200);
  expect(secondDone).toBe(false); // its own entry applies only once durable on the leader
  gate.release();
  expect((await c.settle(second)).index).toBe(before + 2);
});

test("read barriers issued while a Ready is being written share one ReadIndex, and all resolve", async () => {
  const { c, leader } = await threeNodes();
  const gate = gateAppends(leader.storage as never);
  const write = leader.node.propose(enc("y"));
  await c.until(() => gate.held() > 0, "the leader to be busy writing");
  const before = leader.node.metrics().readBarriers;
  const reads = Array.from({ length: 50 }, () => leader.node.readBarrier());
  expect(leader.node.metrics().readBarriers - before).toBe(1);
  gate.release();
  await c.settle(Promise.all([write, ...reads]));
  // A barrier started after that ReadIndex reached the core gets its own.
  await c.settle(leader.node.readBarrier());
  expect(leader.node.metrics().readBarriers - before).toBe(2);
});

/** A leader whose round holding "first" cannot commit: both followers' appends are held. */
async function roundInFlight() {
  const { c, leader } = await threeNodes();
  const followers = c.running().filter((m) => m.id !== leader.id);
  const before = await leader.storage.lastIndex();
  const gates = followers.map((f) => gateAppends(f.storage as never));
  const first = leader.node.propose(enc("first"));
  await c.until(() => gates.every((g) => g.held() > 0), "the followers' appends to start");
  return { c, leader, before, gates, first };
}

test("proposals made while a leader's round is uncommitted wait and go out together once it commits", async () => {
  const { c, leader, before, gates, first } = await roundInFlight();
  // Ten more proposals wait instead of starting rounds of their own.
  const rest = Array.from({ length: 10 }, (_, i) => leader.node.propose(enc(`p${i}`)));
  await c.clock.advanceAsync(50);
  expect(await leader.storage.lastIndex()).toBe(before + 1);
  const appendsBefore = gates.map((g) => g.held());
  for (const g of gates) g.release();
  const results = await c.settle(Promise.all([first, ...rest]));
  // Committed in proposal order, the ten as one round after "first".
  expect(results.map((r) => r.index)).toEqual(Array.from({ length: 11 }, (_, i) => before + 1 + i));
  expect(appendsBefore.every((n) => n === 1)).toBe(true);
});

test("a full message's worth of waiting proposals starts a round without waiting for the commit", async () => {
  const { c, leader, before, gates, first } = await roundInFlight();
  const cap = 64; // defaultConfig().maxAppendEntries, which TestCluster keeps
  const rest = Array.from({ length: cap }, (_, i) => leader.node.propose(enc(`p${i}`)));
  let last = before + 1;
  for (let i = 0; i < 20 && last === before + 1; i++) {
    await c.clock.advanceAsync(10);
    last = await leader.storage.lastIndex();
  }
  expect(last).toBe(before + 1 + cap); // appended while "first" is still uncommitted
  for (const g of gates) g.release();
  const results = await c.settle(Promise.all([first, ...rest]));
  expect(results.at(-1)!.index).toBe(before + 1 + cap);
});
