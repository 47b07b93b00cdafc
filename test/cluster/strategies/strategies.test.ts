import { describe, expect, test } from "bun:test";
import { Assignment } from "../../../src/cluster/assignment.ts";
import {
  assignmentStats,
  leaderChangesBetween,
  minimumMoves,
  movesBetween,
  RangeStrategy,
  RoundRobinStrategy,
  StickyStrategy,
} from "../../../src/cluster/strategies/mod.ts";
import type { AssignmentConstraints, AssignmentStrategy, BrokerMetadata, PartitionInfo } from "../../../src/cluster/types.ts";
import { StreamBusError } from "../../../src/errors.ts";
import { broker, distinctMoveBound, eligibleIds, ruleProblems, spreadOver, topicPartitions } from "./helpers.ts";

const strategies: AssignmentStrategy[] = [new RoundRobinStrategy(), new RangeStrategy(), new StickyStrategy()];
const brokers = (n: number, extra: (id: number) => Partial<BrokerMetadata> = () => ({})) =>
  Array.from({ length: n }, (_, i) => broker(i + 1, extra(i + 1)));

function expectInvalid(fn: () => unknown, pattern: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StreamBusError);
    expect((e as StreamBusError).code).toBe("Invalid");
    expect((e as StreamBusError).message).toMatch(pattern);
    return;
  }
  throw new Error("expected a StreamBusError Invalid");
}

/**
 * Sticky's rebalance of `current` onto `after` (with `c`) moves exactly the true minimum, which
 * minimumMoves underestimates and distinctMoveBound proves, and ends balanced with nothing on an ineligible
 * broker. Returns the rebalanced assignment.
 */
function expectStickyReachesTrueMinimum(
  current: Assignment,
  after: BrokerMetadata[],
  c: AssignmentConstraints,
  want: { minimumMoves: number; trueMinimum: number },
): Assignment {
  expect(minimumMoves(current, after, c)).toBe(want.minimumMoves);
  expect(distinctMoveBound(current, after, c)).toBe(want.trueMinimum);
  const next = new StickyStrategy().rebalance(current, after, c);
  expect(movesBetween(current, next)).toBe(want.trueMinimum);
  const stats = assignmentStats(next, after, c);
  expect([stats.replicasOnIneligible, stats.brokersOffTarget, stats.replicaSpread, stats.leaderSpread]).toEqual([0, 0, 1, 0]);
  return next;
}

describe("the guide's Example 3, arithmetic corrected", () => {
  const current = new Assignment(
    [0, 1, 2, 3, 4, 5].map((i) => ({
      topic: "events",
      partitionId: i,
      replicas: i < 3 ? [1, 2] : [2, 1],
      leader: i < 3 ? 1 : 2,
    })),
  );
  const three = brokers(3);

  test("6 partitions, RF 2, brokers 2 → 3: 4 replica moves, loads 4/4/4, leaders 2/2/2", () => {
    expect(minimumMoves(current, three)).toBe(4);
    const next = new StickyStrategy().rebalance(current, three);
    expect(movesBetween(current, next)).toBe(4);
    expect([...next.brokerLoad()]).toEqual([[1, 4], [2, 4], [3, 4]]);
    expect([...next.leaderLoad()]).toEqual([[1, 2], [2, 2], [3, 2]]);
    expect(ruleProblems(next, topicPartitions("events", 6, 2), three)).toEqual([]);
  });

  test("rebalancing the result again changes nothing", () => {
    const next = new StickyStrategy().rebalance(current, three);
    const again = new StickyStrategy().rebalance(next, three);
    expect(movesBetween(next, again)).toBe(0);
    expect(leaderChangesBetween(next, again)).toBe(0);
  });
});

describe("assign", () => {
  for (const s of strategies) {
    test(`${s.name}: spreads ≤ 1 cluster-wide and per topic over several topics`, () => {
      const bs = brokers(7);
      const parts = [...topicPartitions("a", 10, 3), ...topicPartitions("b", 4, 2), ...topicPartitions("c", 1, 3), ...topicPartitions("d", 23, 1)];
      const a = s.assign(parts, bs);
      expect(ruleProblems(a, parts, bs)).toEqual([]);
      const ids = eligibleIds(bs);
      expect(spreadOver(a.brokerLoad(), ids)).toBeLessThanOrEqual(1);
      expect(spreadOver(a.leaderLoad(), ids)).toBeLessThanOrEqual(1);
      for (const t of a.topics()) {
        expect(spreadOver(a.forTopic(t).brokerLoad(), ids)).toBeLessThanOrEqual(1);
        expect(spreadOver(a.forTopic(t).leaderLoad(), ids)).toBeLessThanOrEqual(1);
      }
    });

    test(`${s.name}: no rack set anywhere does not pile onto brokers 1 and 2`, () => {
      const bs = brokers(5);
      const parts = topicPartitions("t", 10, 2);
      const a = s.assign(parts, bs, { rackAware: true });
      expect([...a.brokerLoad().values()]).toEqual([4, 4, 4, 4, 4]);
      expect([...a.leaderLoad().values()]).toEqual([2, 2, 2, 2, 2]);
    });

    test(`${s.name}: rack aware spans distinct racks`, () => {
      const bs = brokers(9, (id) => ({ rack: `r${id % 3}` }));
      const parts = [...topicPartitions("x", 12, 3), ...topicPartitions("y", 5, 5)];
      const a = s.assign(parts, bs, { rackAware: true });
      expect(ruleProblems(a, parts, bs)).toEqual([]);
      const stats = assignmentStats(a, bs, { rackAware: true });
      expect(stats.rackViolations).toBe(0);
      expect(stats.replicaSpread).toBeLessThanOrEqual(1);
      expect(stats.leaderSpread).toBeLessThanOrEqual(1);
      for (const p of a.partitions().filter((p) => p.topic === "x")) {
        expect(new Set(p.replicas.map((r) => r % 3)).size).toBe(3);
      }
    });

    test(`${s.name}: uneven racks keep the rule and balance the rest`, () => {
      // Rack a has one broker: every RF-2 partition needs one replica there, so it must take all of them.
      const bs = [broker(1, { rack: "a" }), broker(2, { rack: "b" }), broker(3, { rack: "b" }), broker(4, { rack: "b" })];
      const parts = topicPartitions("t", 9, 2);
      const a = s.assign(parts, bs, { rackAware: true });
      expect(ruleProblems(a, parts, bs)).toEqual([]);
      expect(assignmentStats(a, bs, { rackAware: true }).rackViolations).toBe(0);
      expect([...a.brokerLoad()]).toEqual([[1, 9], [2, 3], [3, 3], [4, 3]]);
      expect(assignmentStats(a, bs, { rackAware: true }).brokersOffTarget).toBe(0);
    });

    test(`${s.name}: ineligible brokers get nothing`, () => {
      const bs = [broker(1), broker(2, { status: "FAILED" }), broker(3, { status: "ALIVE" }), broker(4, { status: "STARTING" }), broker(5), broker(6, { status: "DRAINING" })];
      const parts = topicPartitions("t", 6, 2);
      const a = s.assign(parts, bs, { excludedBrokers: new Set([5]) });
      expect([...a.brokerLoad().keys()]).toEqual([1, 3]);
    });

    test(`${s.name}: capacity weights the targets`, () => {
      const bs = [broker(1, { capacity: 1 }), broker(2, { capacity: 1 }), broker(3, { capacity: 2 })];
      const parts = topicPartitions("t", 8, 2);
      const a = s.assign(parts, bs);
      expect([...a.brokerLoad()]).toEqual([[1, 4], [2, 4], [3, 8]]);
      expect([...a.leaderLoad()]).toEqual([[1, 2], [2, 2], [3, 4]]);
      expect(ruleProblems(a, parts, bs)).toEqual([]);
    });

    test(`${s.name}: maxPartitionsPerBroker is honoured`, () => {
      const bs = [broker(1, { capacity: 10 }), broker(2), broker(3), broker(4)];
      const parts = topicPartitions("t", 10, 2);
      const a = s.assign(parts, bs, { maxPartitionsPerBroker: 6 });
      expect(ruleProblems(a, parts, bs, { maxPartitionsPerBroker: 6 })).toEqual([]);
      expect(a.brokerLoad().get(1)).toBe(6);
      expectInvalid(() => s.assign(parts, bs, { maxPartitionsPerBroker: 4 }), /maxPartitionsPerBroker/);
    });

    test(`${s.name}: same inputs in any order give the same output`, () => {
      const bs = brokers(11, (id) => ({ rack: `r${id % 4}` }));
      const parts = [...topicPartitions("b", 17, 3), ...topicPartitions("a", 9, 2)];
      const one = s.assign(parts, bs, { rackAware: true });
      const two = s.assign([...parts].reverse(), [...bs].reverse(), { rackAware: true });
      expect(JSON.stringify(two.toJSON())).toBe(JSON.stringify(one.toJSON()));
      const after = [...bs.slice(1), broker(20, { rack: "r1" })];
      const r1 = s.rebalance(one, after, { rackAware: true });
      const r2 = s.rebalance(Assignment.fromJSON(one.toJSON()), [...after].reverse(), { rackAware: true });
      expect(JSON.stringify(r2.toJSON())).toBe(JSON.stringify(r1.toJSON()));
    });

    test(`${s.name}: errors are Invalid with a clear message, never a smaller RF`, () => {
      const bs = brokers(2);
      expectInvalid(() => s.assign(topicPartitions("t", 1, 3), bs), /needs 3 replicas but only 2 broker/);
      expectInvalid(() => s.assign(topicPartitions("t", 1, 3), [...bs, broker(3, { status: "FAILED" })]), /only 2/);
      expectInvalid(() => s.assign(topicPartitions("t", 1, 0), bs), /positive integer/);
      expectInvalid(() => s.assign(topicPartitions("t", 1, 1.5), bs), /positive integer/);
      expectInvalid(() => s.assign([{ topic: "t", partitionId: 0, replicas: 1 }, { topic: "t", partitionId: 0, replicas: 1 }], bs), /twice/);
      expectInvalid(() => s.assign([{ topic: "", partitionId: 0, replicas: 1 }], bs), /topic/);
      expectInvalid(() => s.assign(topicPartitions("t", 1, 1), []), /only 0 broker/);
      expectInvalid(() => s.assign(topicPartitions("t", 1, 1), [broker(1), broker(1)]), /twice/);
      expectInvalid(() => s.assign(topicPartitions("t", 1, 1), [broker(1, { capacity: 0 })]), /capacity/);
      // RF 3 rack-aware over racks of sizes 1 and 5 with 2 racks: at most 2 per rack, fine; RF 5 needs 3 per rack.
      const racks = [broker(1, { rack: "a" }), ...[2, 3, 4, 5, 6].map((id) => broker(id, { rack: "b" }))];
      expect(() => s.assign(topicPartitions("t", 1, 3), racks, { rackAware: true })).not.toThrow();
      expectInvalid(() => s.assign(topicPartitions("t", 1, 5), racks, { rackAware: true }), /rack/);
      expectInvalid(() => s.rebalance(s.assign(topicPartitions("t", 2, 2), bs), [broker(1)]), /needs 2 replicas/);
    });

    test(`${s.name}: empty input gives an empty assignment`, () => {
      expect(s.assign([], []).totalPartitions()).toBe(0);
      expect(s.rebalance(new Assignment(), brokers(2)).totalPartitions()).toBe(0);
    });

    test(`${s.name}: rebalance repairs a departed broker and fills an empty new one`, () => {
      const bs = brokers(4);
      const parts = topicPartitions("t", 12, 3);
      const a = s.assign(parts, bs);
      const after = [broker(1), broker(2), broker(3, { status: "FAILED" }), broker(4), broker(5)];
      const next = s.rebalance(a, after);
      expect(ruleProblems(next, parts, after)).toEqual([]);
      expect([...next.brokerLoad()]).toEqual([[1, 9], [2, 9], [4, 9], [5, 9]]);
      expect(spreadOver(next.leaderLoad(), [1, 2, 4, 5])).toBeLessThanOrEqual(1);
    });
  }
});

describe("layouts", () => {
  test("round-robin stripes leaders one by one; range gives each broker a contiguous run, rotating per topic", () => {
    const bs = brokers(3);
    const parts = [...topicPartitions("a", 6, 2), ...topicPartitions("b", 6, 2)];
    const leaders = (a: Assignment, t: string) => a.forTopic(t).partitions().map((p) => p.leader);
    const rr = new RoundRobinStrategy().assign(parts, bs);
    expect(new Set(leaders(rr, "a").slice(0, 3)).size).toBe(3);
    expect(new Set(leaders(rr, "a").slice(3)).size).toBe(3);
    const range = new RangeStrategy().assign(parts, bs);
    const a = leaders(range, "a"), b = leaders(range, "b");
    for (const ls of [a, b]) expect([ls[0] === ls[1], ls[2] === ls[3], ls[4] === ls[5]]).toEqual([true, true, true]);
    expect(new Set(a).size).toBe(3);
    expect(b[0]).not.toBe(a[0]); // the second topic starts on another broker
  });
});

describe("sticky rebalance", () => {
  const sticky = new StickyStrategy();

  test("rack aware: losing a broker moves exactly its replicas and keeps the rack rule", () => {
    const bs = brokers(12, (id) => ({ rack: `r${id % 4}` }));
    const c = { rackAware: true };
    const a = sticky.assign([...topicPartitions("x", 200, 2), ...topicPartitions("y", 100, 2)], bs, c);
    const after = bs.map((b) => (b.id === 7 ? { ...b, status: "FAILED" as const } : b));
    const next = sticky.rebalance(a, after, c);
    expect(movesBetween(a, next)).toBe(a.brokerLoad().get(7)!);
    expect(minimumMoves(a, after, c)).toBe(a.brokerLoad().get(7)!);
    const stats = assignmentStats(next, after, c);
    expect(stats.rackViolations).toBe(0);
    expect(stats.replicaSpread).toBeLessThanOrEqual(1);
    expect(stats.leaderSpread).toBeLessThanOrEqual(1);
  });

  // RF 3 and RF 2 over racks r0..r3 of three brokers each (RF 2 and 3 allow one replica per rack). When broker
  // `lost` fails, a lost replica cannot go to a rack its partition still uses. For a rack t, let A be the lost
  // replicas of partitions with a surviving replica in t: all of them must land outside t, where the brokers
  // have room Σ (hi − count) before leaving balance. Each further move frees at most one such place (a replica
  // leaving for t; moving a replica out of t lands outside t and takes a place itself). So any balanced
  // result moves at least lost + max_t (A − room) replicas, a bound above minimumMoves.
  const rackMoveBound = (a: Assignment, bs: BrokerMetadata[], lost: number) => {
    const rackOf = new Map(bs.map((b) => [b.id, b.rack!]));
    const hi = Math.ceil(a.partitions().reduce((s, p) => s + p.replicas.length, 0) / (bs.length - 1));
    const hit = a.partitions().filter((p) => p.replicas.includes(lost));
    let extra = 0;
    for (const t of new Set(rackOf.values())) {
      const tied = hit.filter((p) => p.replicas.some((r) => r !== lost && rackOf.get(r) === t)).length;
      let room = 0;
      for (const b of bs) if (b.id !== lost && rackOf.get(b.id) !== t) room += hi - (a.brokerLoad().get(b.id) ?? 0);
      extra = Math.max(extra, tied - room);
    }
    return hit.length + extra;
  };

  for (const [lost, expected] of [[7, 73], [1, 73], [3, 75]]) {
    test(`rack aware, RF 3 over 4 racks, broker ${lost} fails: exactly the rack-constrained minimum (${expected})`, () => {
      // Placing every lost replica as a maximum matching first, and only then the few that need one extra
      // move each, reaches the bound; taking extra moves as they came cost 74 for broker 1.
      const bs = brokers(12, (id) => ({ rack: `r${id % 4}` }));
      const c = { rackAware: true };
      const a = sticky.assign([...topicPartitions("x", 200, 3), ...topicPartitions("y", 100, 2)], bs, c);
      const after = bs.map((b) => (b.id === lost ? { ...b, status: "FAILED" as const } : b));
      const next = sticky.rebalance(a, after, c);
      expect(rackMoveBound(a, bs, lost)).toBe(expected);
      expect(minimumMoves(a, after, c)).toBe(a.brokerLoad().get(lost)!); // 67: blind to the rack rule
      expect(movesBetween(a, next)).toBe(expected);
      const stats = assignmentStats(next, after, c);
      expect([stats.rackViolations, stats.brokersOffTarget]).toEqual([0, 0]);
      expect([stats.replicaSpread, stats.leaderSpread]).toEqual([1, 1]);
    });
  }

  test("rack aware, RF 3 and RF 2 over 3 racks: balance costs the rack-constrained minimum (98), not 67", () => {
    // Every RF 3 partition keeps one replica per rack, so the 50 RF 3 replicas of failed broker 7 (rack r1) go
    // to r1's 3 survivors. r1 then holds 200 RF 3 replicas plus its 50 surviving RF 2 ones, while balance
    // (800 / 11: 72 or 73 each) lets its 3 brokers hold at most 219: at least 31 RF 2 replicas leave r1.
    // 67 lost + 31 = 98. Stopping at 67 would leave r1's brokers at 83 and the others near 69.
    const bs = brokers(12, (id) => ({ rack: `r${id % 3}` }));
    const c = { rackAware: true };
    const a = sticky.assign([...topicPartitions("x", 200, 3), ...topicPartitions("y", 100, 2)], bs, c);
    const after = bs.map((b) => (b.id === 7 ? { ...b, status: "FAILED" as const } : b));
    const next = sticky.rebalance(a, after, c);
    const r1 = new Set([1, 4, 10]);
    const ySurvivingInR1 = a.partitions().filter((p) => p.topic === "y" && p.replicas.some((r) => r1.has(r))).length;
    expect(ySurvivingInR1).toBe(50);
    expect(a.brokerLoad().get(7)).toBe(67);
    expect(minimumMoves(a, after, c)).toBe(67);
    expect(movesBetween(a, next)).toBe(67 + (200 + ySurvivingInR1 - 3 * 73));
    const stats = assignmentStats(next, after, c);
    expect([stats.rackViolations, stats.brokersOffTarget, stats.replicaSpread, stats.leaderSpread]).toEqual([0, 0, 1, 1]);
  });

  test("rack aware, RF 3 over 3 racks only: rack totals are forced, so losing a broker moves exactly its replicas", () => {
    // With only RF 3 every rack holds exactly one replica of each partition: the rack of the failed broker
    // keeps 200 on 3 brokers (66–67 each) and the targets are clamped to that, so nothing else moves.
    const bs = brokers(12, (id) => ({ rack: `r${id % 3}` }));
    const c = { rackAware: true };
    const a = sticky.assign(topicPartitions("x", 200, 3), bs, c);
    const after = bs.map((b) => (b.id === 7 ? { ...b, status: "FAILED" as const } : b));
    const next = sticky.rebalance(a, after, c);
    expect(movesBetween(a, next)).toBe(a.brokerLoad().get(7)!);
    expect(minimumMoves(a, after, c)).toBe(a.brokerLoad().get(7)!);
    for (const id of [1, 4, 10]) expect([66, 67]).toContain(next.brokerLoad().get(id)!);
    const stats = assignmentStats(next, after, c);
    expect([stats.rackViolations, stats.brokersOffTarget, stats.leaderSpread]).toEqual([0, 0, 1]);
  });

  test("adding brokers moves exactly minimumMoves and fills them to the floor", () => {
    const bs = brokers(9);
    const a = sticky.assign(topicPartitions("t", 500, 3), bs);
    const after = [...bs, broker(10), broker(11)];
    const next = sticky.rebalance(a, after);
    expect(movesBetween(a, next)).toBe(minimumMoves(a, after));
    expect(next.brokerLoad().get(10)).toBeGreaterThanOrEqual(136);
    expect(spreadOver(next.brokerLoad(), eligibleIds(after))).toBeLessThanOrEqual(1);
    expect(spreadOver(next.leaderLoad(), eligibleIds(after))).toBeLessThanOrEqual(1);
  });

  test("an already balanced assignment comes back unchanged", () => {
    const bs = brokers(6, (id) => ({ rack: `r${id % 2}` }));
    const a = new RoundRobinStrategy().assign(topicPartitions("t", 40, 3), bs, { rackAware: true });
    const next = sticky.rebalance(a, bs, { rackAware: true });
    expect(JSON.stringify(next.toJSON())).toBe(JSON.stringify(a.toJSON()));
  });

  test("losing a broker moves exactly its replicas", () => {
    const bs = brokers(10);
    const a = sticky.assign(topicPartitions("t", 100, 3), bs);
    const lost = a.brokerLoad().get(4)!;
    const after = bs.filter((b) => b.id !== 4);
    const next = sticky.rebalance(a, after);
    expect(movesBetween(a, next)).toBe(lost);
    expect(minimumMoves(a, after)).toBe(lost);
    expect(spreadOver(next.brokerLoad(), eligibleIds(after))).toBeLessThanOrEqual(1);
    expect(spreadOver(next.leaderLoad(), eligibleIds(after))).toBeLessThanOrEqual(1);
  });

  test("excluding a broker drains it like a failure", () => {
    const bs = brokers(5);
    const a = sticky.assign(topicPartitions("t", 20, 2), bs);
    const next = sticky.rebalance(a, bs, { excludedBrokers: new Set([2]) });
    expect(next.brokerLoad().has(2)).toBe(false);
    expect(movesBetween(a, next)).toBe(a.brokerLoad().get(2)!);
  });

  test("leadership is balanced by reordering, without data moves", () => {
    const bs = brokers(3);
    // Balanced replicas (4/4/4) but broker 1 leads everything.
    const current = new Assignment(
      [[1, 2], [1, 3], [1, 2], [1, 3], [2, 3], [3, 2]].map((replicas, partitionId) => ({ topic: "t", partitionId, replicas, leader: replicas[0] })),
    );
    const next = sticky.rebalance(current, bs);
    expect(movesBetween(current, next)).toBe(0);
    expect([...next.leaderLoad()]).toEqual([[1, 2], [2, 2], [3, 2]]);
  });

  test("a current assignment that breaks the rack rule is repaired", () => {
    const bs = brokers(4, (id) => ({ rack: id <= 2 ? "a" : "b" }));
    const current = new Assignment(
      [[1, 2], [3, 4], [1, 3], [2, 4]].map((replicas, partitionId) => ({ topic: "t", partitionId, replicas, leader: replicas[0] })),
    );
    const next = sticky.rebalance(current, bs, { rackAware: true });
    expect(assignmentStats(next, bs, { rackAware: true }).rackViolations).toBe(0);
    expect(spreadOver(next.brokerLoad(), [1, 2, 3, 4])).toBeLessThanOrEqual(1);
  });

  test("where the lower bound is unreachable it still balances, at one extra move", () => {
    // Broker 4 leaves; its partition already holds broker 1, the only broker with room. 2 moves, bound 1.
    const current = new Assignment(
      [[4, 1], [2, 3], [2, 3]].map((replicas, partitionId) => ({ topic: "t", partitionId, replicas, leader: replicas[0] })),
    );
    const bs = brokers(3);
    const next = sticky.rebalance(current, bs);
    expect(minimumMoves(current, bs)).toBe(1);
    expect(movesBetween(current, next)).toBe(2);
    expect([...next.brokerLoad()]).toEqual([[1, 2], [2, 2], [3, 2]]);
  });

  test("RF 4 on 6 brokers, one excluded: distinctness lifts the true minimum to 55, above minimumMoves (46)", () => {
    // The stickyChangeProperty counterexample (seed -1902031172, path 28:3:4:3:6:5:5:6:7:5:9:8:9:9:9:10):
    // Sticky's own assign of 69 RF 4 partitions and one RF 2 over brokers 3, 5, 1006, 2001, 2002, 2004, then
    // 2002 is excluded. The partitions come in three kinds of 23: A = {2001, 3, 5, 1006} (no 2004, no 2002),
    // B = {2002, 2004, 3, 5} and C = {2002, 2004, 1006, 2001}; plus D = {3, 5}. Loads 47/47/46/46/46 (+46 on
    // 2002); 278 replicas over 5 brokers: 55 or 56 each. minimumMoves = 46 (2002's replicas).
    // True minimum 55. Lower bound: each of the 46 B/C partitions lost a replica and must gain one (46 moves).
    // Broker 2004 must grow from 46 to ≥ 55, so it gains ≥ 9 replicas, each from a partition that lacks it:
    // only A and D, which have no empty slot, so those are 9 further moves (a replica of A/D taken off 3, 5,
    // 1006 or 2001; those brokers are refilled by the 2002 replicas of C and B). 46 + 9 = 55. It is reached
    // (below), and an exact min-cost flow over this instance (partition → broker, cost 1 for a broker the
    // partition lacks, broker loads in [55, 56]) gives 55 too. The property's old slack (46 + 4) was wrong here.
    const rows = [[3, 5, 1006, 2001], [5, 2002, 2004, 3], [1006, 2001, 2002, 2004], [2001, 3, 5, 1006], [2002, 2004, 3, 5],
      [2004, 1006, 2001, 2002]];
    const placements = Array.from({ length: 69 }, (_, partitionId) => {
      const replicas = partitionId === 0 ? [2001, 3, 5, 1006] : rows[partitionId % 6];
      return { topic: "topic-0", partitionId, replicas, leader: replicas[0] };
    });
    const current = new Assignment([...placements, { topic: "topic-1", partitionId: 0, replicas: [3, 5], leader: 3 }]);
    const ids = [2001, 2002, 3, 2004, 5, 1006];
    const bs = ids.map((id) => broker(id));
    // The exact instance the property built: Sticky's assign gives this very assignment.
    const fresh = sticky.assign([...topicPartitions("topic-0", 69, 4), ...topicPartitions("topic-1", 1, 2)], bs);
    expect(fresh.partitions()).toEqual(current.partitions());
    const c = { excludedBrokers: new Set([2002]) };
    const after = [...bs].reverse();
    const kinds = new Map<string, number>();
    for (const p of current.partitions()) {
      const key = [...p.replicas].sort((x, y) => x - y).join(",");
      kinds.set(key, (kinds.get(key) ?? 0) + 1);
    }
    expect(Object.fromEntries(kinds)).toEqual({ "3,5,1006,2001": 23, "3,5,2002,2004": 23, "1006,2001,2002,2004": 23, "3,5": 1 });
    const next = expectStickyReachesTrueMinimum(current, after, c, { minimumMoves: 46, trueMinimum: 55 });
    expect(ruleProblems(next, current.partitions().map((p) => ({ ...p, replicas: p.replicas.length })), after, c)).toEqual([]);
    expect(movesBetween(next, sticky.rebalance(next, after, c))).toBe(0);
  });

  test("the same shape with 755 partitions: a pair of brokers sets the true minimum, 576 against minimumMoves 503", () => {
    // Found by PROPERTY_SEED=-1902031172 (run 29). Sticky's assign of 754 RF 4 partitions and one RF 2 over the
    // same six brokers; 2002 is excluded. Every eligible broker holds 503 and needs 603 or 604 (+100 at least).
    // Brokers 3 and 1006 need ≥ 200 together, but the partitions that lost a replica to 2002 and lack 3 or
    // 1006 are only 126 ({5, 2001, 2004} + hole) and the RF 2 one ({2004} + hole): at most 127, one each. The
    // other ≥ 73 come from partitions without a hole, each costing a replica moved off an eligible broker on
    // top of the 503 forced moves: ≥ 576. An exact min-cost flow over the instance also gives 576.
    const ids = [2001, 2002, 3, 2004, 5, 1006];
    const bs = ids.map((id) => broker(id));
    const current = sticky.assign([...topicPartitions("topic-0", 754, 4), ...topicPartitions("topic-1", 1, 2)], bs);
    const c = { excludedBrokers: new Set([2002]) };
    const after = [...bs].reverse();
    expectStickyReachesTrueMinimum(current, after, c, { minimumMoves: 503, trueMinimum: 576 });
  });

  test("four of eight brokers gone, one added: the greedy balance's needless moves are cancelled (47, not 49)", () => {
    // RF 4 over 8 brokers; 5, 1006 and 2004 leave, 7 is excluded, 10000 joins. The greedy balance used two moves
    // more than minimumMoves (49); the bound is reachable and the min-cost pass finds a cycle of hand-overs
    // that saves them, so the result meets the bound exactly.
    const rows = [[1001, 2002, 2003, 2004], [1006, 2008, 5, 7], [2002, 2003, 2004, 2008], [2003, 5, 7, 1001],
      [2004, 1006, 2002, 2008], [2008, 5, 7, 1001], [5, 1006, 2002, 2003], [7, 2004, 1001, 1006]];
    const replicas = [[5, 7, 1001, 1006], [7, 5, 1001, 1006], ...Array.from({ length: 21 }, (_, i) => rows[i % 8])];
    const current = new Assignment(replicas.map((r, partitionId) => ({ topic: "t", partitionId, replicas: r, leader: r[0] })));
    const after = [10000, 2008, 7, 2003, 2002, 1001].map((id) => broker(id));
    const c = { excludedBrokers: new Set([7]) };
    expect(minimumMoves(current, after, c)).toBe(47);
    const next = sticky.rebalance(current, after, c);
    expect(movesBetween(current, next)).toBe(47);
    const stats = assignmentStats(next, after, c);
    expect([stats.replicasOnIneligible, stats.brokersOffTarget]).toEqual([0, 0]);
    expect(stats.replicaSpread).toBeLessThanOrEqual(1);
    expect(stats.leaderSpread).toBeLessThanOrEqual(1);
    expect(ruleProblems(next, replicas.map((_, partitionId) => ({ topic: "t", partitionId, replicas: 4 })), after, c)).toEqual([]);
  });
});

describe("stats", () => {
  test("assignmentStats reports spreads, rack violations and ineligible replicas", () => {
    const bs = [broker(1, { rack: "a" }), broker(2, { rack: "a" }), broker(3, { rack: "b" }), broker(4, { status: "FAILED" })];
    const a = new Assignment([
      { topic: "t", partitionId: 0, replicas: [1, 2], leader: 1 },
      { topic: "t", partitionId: 1, replicas: [1, 3], leader: 1 },
      { topic: "t", partitionId: 2, replicas: [4, 3], leader: 3 },
    ]);
    expect(assignmentStats(a, bs)).toEqual({
      replicaSpread: 1,
      leaderSpread: 2,
      rackViolations: 1,
      replicasOnIneligible: 1,
      brokersOffTarget: 1,
    });
  });

  test("minimumMoves counts replicas on departed brokers and what balance needs", () => {
    const a = new Assignment(topicPartitions("t", 4, 2).map((p) => ({ ...p, replicas: [1, 2], leader: 1 })));
    expect(minimumMoves(a, brokers(2))).toBe(0);
    expect(minimumMoves(a, brokers(4))).toBe(4);
    expect(minimumMoves(a, [broker(1), broker(3)])).toBe(4);
    // 8 replicas over 3 brokers: 2 or 3 each; broker 2's 4 replicas and one of broker 1's must move.
    expect(minimumMoves(a, [broker(1), broker(3), broker(4)])).toBe(5);
  });

  test("movesBetween counts replicas placed on a broker the partition did not have", () => {
    const a = new Assignment([{ topic: "t", partitionId: 0, replicas: [1, 2, 3], leader: 1 }]);
    const b = new Assignment([{ topic: "t", partitionId: 0, replicas: [3, 2, 5], leader: 3 }]);
    expect(movesBetween(a, b)).toBe(1);
    expect(leaderChangesBetween(a, b)).toBe(1);
  });
});
