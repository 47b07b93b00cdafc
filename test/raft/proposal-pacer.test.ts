// The leader's proposal pacer on its own: a fake core (role, round in flight) and a manual clock.
import { expect, test } from "bun:test";
import { defaultConfig, validateConfig } from "../../src/raft/config.ts";
import { ProposalPacer } from "../../src/raft/proposal-pacer.ts";
import type { RawNode } from "../../src/raft/raw-node.ts";
import { ManualClock } from "../../src/testing/manual-clock.ts";

function setup(lingerMs = 2, cap = 64) {
  const core = { role: "leader", inFlight: false };
  const raw = { get role() { return core.role; }, roundInFlight: () => core.inFlight } as unknown as RawNode;
  const clock = new ManualClock();
  let wakes = 0;
  const pacer = new ProposalPacer({ cap, lingerMs, clock, wake: () => wakes++ });
  const p = () => ({ data: new Uint8Array(1), fail: () => {} });
  /** Proposes like RaftNode.propose: straight to the core unless held; returns how many the core got. */
  const propose = (n: number) => {
    let direct = 0;
    for (let i = 0; i < n; i++) {
      if (pacer.shouldHold(raw)) pacer.hold(p(), raw);
      else direct++;
    }
    return direct;
  };
  return { core, raw, clock, pacer, propose, wakes: () => wakes };
}

test("a lone client's proposal never waits", () => {
  const { propose, pacer, raw } = setup();
  for (let i = 0; i < 5; i++) {
    expect(propose(1)).toBe(1);
    expect(pacer.take(raw)).toEqual([]);
  }
});

test("proposals wait while a round is in flight and go together once it commits", () => {
  const { core, propose, pacer, raw } = setup();
  core.inFlight = true;
  expect(propose(10)).toBe(0);
  expect(pacer.take(raw)).toHaveLength(0);
  core.inFlight = false;
  expect(pacer.take(raw)).toHaveLength(10);
});

test("after a batch, a smaller next round lingers until a round's worth waits", () => {
  const { core, propose, pacer, raw, clock, wakes } = setup();
  core.inFlight = true;
  propose(10);
  core.inFlight = false;
  expect(pacer.take(raw)).toHaveLength(10); // last round: 10
  expect(propose(9)).toBe(0); // under load: held even with nothing in flight
  expect(pacer.take(raw)).toHaveLength(0);
  expect(wakes()).toBe(0);
  propose(1); // 10 wait: as many as went in the last round
  expect(pacer.take(raw)).toHaveLength(10);
  // The linger's timer fires later and only wakes the loop; nothing waits now.
  clock.advance(2);
  expect(wakes()).toBe(1);
  expect(pacer.take(raw)).toHaveLength(0);
});

test("a linger ends after lingerMs with whatever waits, and the next lone proposal goes at once", () => {
  const { core, propose, pacer, raw, clock, wakes } = setup(2);
  core.inFlight = true;
  propose(20);
  core.inFlight = false;
  pacer.take(raw);
  propose(1);
  expect(pacer.take(raw)).toHaveLength(0);
  clock.advance(1);
  expect(pacer.take(raw)).toHaveLength(0);
  clock.advance(1);
  expect(wakes()).toBe(1);
  expect(pacer.take(raw)).toHaveLength(1); // last round: 1, so no more lingering
  expect(propose(1)).toBe(1);
});

test("a full message goes at once, lingering or not; a follower hands everything over", () => {
  const { core, propose, pacer, raw } = setup(2, 8);
  core.inFlight = true;
  propose(8);
  expect(pacer.take(raw)).toHaveLength(8); // cap reached while a round is in flight
  core.inFlight = false;
  propose(1);
  expect(pacer.take(raw)).toHaveLength(0); // lingers (last round 8)
  core.role = "follower";
  expect(pacer.take(raw)).toHaveLength(1);
});

test("lingerMs 0 turns lingering off", () => {
  const { core, propose, pacer, raw, wakes } = setup(0);
  core.inFlight = true;
  propose(10);
  core.inFlight = false;
  expect(pacer.take(raw)).toHaveLength(10);
  expect(propose(1)).toBe(1);
  expect(wakes()).toBe(0);
});

test("validateConfig refuses a negative or non-numeric proposalLingerMs, naming the field", () => {
  const base = { ...defaultConfig(), nodeId: 1, peers: [{ id: 1, addr: "127.0.0.1:1" }] };
  expect(() => validateConfig({ ...base, proposalLingerMs: 0 })).not.toThrow();
  for (const bad of [-1, Number.NaN, Infinity]) {
    expect(() => validateConfig({ ...base, proposalLingerMs: bad })).toThrow("proposalLingerMs");
  }
});
