/**
 * Randomized safety check of the core alone (the full simulator lives in src/testing): random ticks,
 * proposals, message loss, duplication and reordering, partitions, crash/restart from what was persisted,
 * snapshots and membership changes. Invariants: one leader per term, the same entry applied at each index
 * everywhere, commit indexes never go back.
 */
import { describe, expect, test } from "bun:test";
import { isStreamBusError } from "../../src/errors.ts";
import type { Message } from "../../src/raft/types.ts";
import { seededRandom } from "../../src/rng.ts";
import { Cluster, dec, enc } from "./core-harness.ts";

function runSeed(seed: number, steps: number): { applied: number; leaders: number } {
  const rng = seededRandom(seed);
  const ids = [1, 2, 3, 4, 5];
  // Every combination of PreVote and CheckQuorum across seeds.
  const flags = { preVote: seed % 2 === 0, checkQuorum: (seed >> 1) % 2 === 0 };
  const c = new Cluster(ids, { compactionOverhead: 5, snapshotChunkSize: 64, maxAppendEntries: 8, maxInflightMsgs: 4, ...flags }, seed);
  const pool: Message[] = [];
  const leaderOf = new Map<number, number>();
  const atIndex = new Map<number, string>();
  const lastCommit = new Map<number, number>();
  const appliedUpTo = new Map<number, number>();
  let cut = new Set<number>(); // nodes on the minority side of a partition
  let proposals = 0;

  const fail = (msg: string): never => {
    throw new Error(`seed ${seed}: ${msg}`);
  };
  const process = () => {
    for (const [id, n] of c.nodes) {
      if (c.down.has(id) || !n.hasReady()) continue;
      const rd = n.ready();
      const disk = c.disks.get(id)!;
      if (rd.snapshot) {
        disk.snapshot = rd.snapshot;
        disk.entries = disk.entries.filter((e) => e.index > rd.snapshot!.meta.index);
        appliedUpTo.set(id, rd.snapshot.meta.index);
      }
      if (rd.entries.length > 0) {
        const first = rd.entries[0].index;
        disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries);
      }
      if (rd.hardState) {
        if (rd.hardState.commit < (lastCommit.get(id) ?? 0)) fail(`node ${id} commit went back`);
        lastCommit.set(id, rd.hardState.commit);
        disk.hardState = { ...rd.hardState };
      }
      for (const m of rd.messages) {
        if (m.to === id) fail("message to self");
        pool.push(m);
      }
      for (const e of rd.committedEntries) {
        const key = `${e.term}/${e.type}/${dec(e.data)}`;
        const prev = atIndex.get(e.index);
        if (prev !== undefined && prev !== key) fail(`index ${e.index}: node ${id} applied ${key}, another ${prev}`);
        atIndex.set(e.index, key);
        if (e.index !== (appliedUpTo.get(id) ?? 0) + 1) fail(`node ${id} applied ${e.index} after ${appliedUpTo.get(id)}`);
        appliedUpTo.set(id, e.index);
      }
      n.advance(rd);
      const s = n.status();
      if (s.role === "leader") {
        const l = leaderOf.get(s.term);
        if (l !== undefined && l !== id) fail(`two leaders in term ${s.term}: ${l} and ${id}`);
        leaderOf.set(s.term, id);
      }
    }
  };
  const deliverable = (m: Message) => !c.down.has(m.to) && cut.has(m.from) === cut.has(m.to);

  for (let step = 0; step < steps; step++) {
    const r = rng.next();
    const live = ids.filter((id) => !c.down.has(id));
    if (r < 0.35) {
      for (const id of live) c.node(id).tick();
    } else if (r < 0.7) {
      // Deliver a few messages, mostly in order, sometimes reordered, dropped or duplicated.
      for (let k = 0; k < 8 && pool.length > 0; k++) {
        const i = rng.chance(0.2) ? rng.int(pool.length) : 0;
        const m = pool[i];
        if (!rng.chance(0.1)) pool.splice(i, 1);
        if (rng.chance(0.05) || !deliverable(m)) continue;
        c.node(m.to).step(m);
      }
    } else if (r < 0.85) {
      const id = live[rng.int(live.length)];
      try {
        c.node(id).propose(enc(`v${proposals++}`));
      } catch (e) {
        if (!isStreamBusError(e, "NoLeader", "Unavailable")) throw e;
      }
    } else if (r < 0.88) {
      cut = new Set(ids.filter(() => rng.chance(0.3)));
    } else if (r < 0.9) {
      cut = new Set();
    } else if (r < 0.92 && c.down.size === 0) {
      const id = ids[rng.int(ids.length)];
      c.down.add(id);
      for (let i = pool.length - 1; i >= 0; i--) if (pool[i].to === id) pool.splice(i, 1);
    } else if (r < 0.94 && c.down.size > 0) {
      const id = [...c.down][0];
      c.down.delete(id);
      const snap = c.disks.get(id)!.snapshot;
      appliedUpTo.set(id, snap ? snap.meta.index : 0);
      c.restart(id);
    } else if (r < 0.97) {
      const id = live[rng.int(live.length)];
      const s = c.node(id).status();
      if (s.applied > s.snapshotIndex + 3) {
        const snap = c.node(id).createSnapshot(s.applied, enc("[]"));
        const disk = c.disks.get(id)!;
        disk.snapshot = snap;
        disk.entries = disk.entries.filter((e) => e.index > snap.meta.index);
      }
    } else {
      const id = live[rng.int(live.length)];
      const types = ["addVoter", "addLearner", "removeNode"] as const;
      const pick = () => ({ type: types[rng.int(3)], nodeId: ids[rng.int(ids.length)] });
      try {
        const r2 = rng.next();
        if (r2 < 0.4) c.node(id).proposeConfChange({ changes: [pick()] });
        else if (r2 < 0.6) c.node(id).proposeConfChange({ changes: [pick(), pick()], autoLeave: rng.chance(0.8) });
        else if (r2 < 0.65) c.node(id).proposeConfChange({ changes: [], leaveJoint: true });
        else c.node(id).transferLeadership(ids[rng.int(ids.length)]);
      } catch (e) {
        if (!isStreamBusError(e, "NoLeader", "Unavailable", "Conflict", "Invalid")) throw e;
      }
    }
    process();
  }
  // Heal everything and let the cluster settle: it must make progress again.
  cut = new Set();
  for (const id of [...c.down]) {
    c.down.delete(id);
    const snap = c.disks.get(id)!.snapshot;
    appliedUpTo.set(id, snap ? snap.meta.index : 0);
    c.restart(id);
  }
  for (let i = 0; i < 400; i++) {
    for (const id of ids) c.node(id).tick();
    process();
    while (pool.length > 0) {
      const m = pool.shift()!;
      c.node(m.to).step(m);
      if (pool.length % 64 === 0) process();
    }
    process();
  }
  const l = c.leader();
  if (l === undefined) fail("no leader after healing");
  c.node(l!).propose(enc("final"));
  for (let i = 0; i < 20; i++) {
    process();
    while (pool.length > 0) {
      const m = pool.shift()!;
      c.node(m.to).step(m);
    }
  }
  process();
  const final = [...atIndex.values()].filter((k) => k.endsWith("/normal/final")).length;
  if (final !== 1) fail("the final proposal was not applied after healing");
  return { applied: atIndex.size, leaders: leaderOf.size };
}

describe("raft core: randomized safety", () => {
  test("40 seeds of faults keep one leader per term and identical applied entries", () => {
    let total = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const r = runSeed(seed, 1500);
      total += r.applied;
    }
    expect(total).toBeGreaterThan(40 * 10);
  });
});
