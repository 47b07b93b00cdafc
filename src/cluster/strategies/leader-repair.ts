import { type Cluster, fits, type WorkPartition } from "./model.ts";
import type { Targets } from "./targets.ts";

/**
 * Last resort for leadership balance when reordering alone cannot reach it: a broker whose replicas are
 * mostly single-replica partitions (RF 1) must lead every one of them. Moves one such partition's leader
 * replica from a broker above its leader range to one below it and, when replica counts would leave their
 * range, moves one follower replica back the other way (two moves, replica counts unchanged). In place;
 * returns the number of replica moves made.
 */
export function repairLeaders(work: WorkPartition[], c: Cluster, replicas: Targets, leaders: Targets, steps = 0): number {
  let slack = steps;
  const n = c.ids.length;
  const lead = new Int32Array(n), count = new Int32Array(n);
  const ledBy: number[][] = Array.from({ length: n }, () => []);
  const follows: number[][] = Array.from({ length: n }, () => []);
  for (let p = 0; p < work.length; p++) {
    const reps = work[p].replicas;
    lead[reps[0]]++;
    ledBy[reps[0]].push(p);
    for (let j = 0; j < reps.length; j++) {
      count[reps[j]]++;
      if (j > 0) follows[reps[j]].push(p);
    }
  }
  let moves = 0;

  const move = (p: number, slot: number, to: number) => {
    const reps = work[p].replicas;
    const from = reps[slot];
    reps[slot] = to;
    count[from]--, count[to]++;
    if (slot === 0) lead[from]--, lead[to]++, ledBy[to].push(p);
    else follows[to].push(p);
    moves++;
  };

  /** Moves leadership of one of u's partitions to v by a replica move (plus a compensating one). */
  const shift = (u: number, v: number): boolean => {
    const needBack = count[v] + 1 > replicas.hi[v] || count[u] - 1 < replicas.lo[u];
    // The follower sent back does not depend on p (nothing moves during the search) beyond q ≠ p: the
    // first two candidates in follows[v] order serve every p, instead of scanning follows[v] once per p.
    let backs: number[] | null = null;
    for (const p of ledBy[u]) {
      const reps = work[p].replicas;
      if (reps[0] !== u || !fits(c, reps, 0, v)) continue;
      if (!needBack) {
        move(p, 0, v);
        return true;
      }
      if (!backs) {
        backs = [];
        for (const q of follows[v]) {
          const qr = work[q].replicas;
          const s = qr.indexOf(v);
          if (s <= 0 || backs.includes(q) || !fits(c, qr, s, u)) continue;
          if (backs.push(q) === 2) break;
        }
      }
      const q = backs[0] === p ? backs[1] : backs[0];
      if (q === undefined) continue;
      move(p, 0, v);
      move(q, work[q].replicas.indexOf(v), u);
      return true;
    }
    return false;
  };

  const byLead = () => Array.from({ length: n }, (_, b) => b).sort((a, b) => lead[a] - leaders.lo[a] - (lead[b] - leaders.lo[b]) || a - b);
  // A receiver at its upper bound is allowed as a second choice: reordering can pass one of its other
  // leaderships on (the caller runs the leader balancer again).
  for (let u = 0; u < n; u++) {
    while (lead[u] > leaders.hi[u]) {
      const order = byLead();
      const ok = order.some((v) => lead[v] < leaders.hi[v] && shift(u, v)) ||
        order.some((v) => v !== u && lead[v] === leaders.hi[v] && shift(u, v));
      if (!ok) break;
      if (slack > 0 && --slack === 0) break;
    }
  }
  for (let v = 0; v < n; v++) {
    while (lead[v] < leaders.lo[v]) {
      const order = byLead().reverse();
      const ok = order.some((u) => lead[u] > leaders.lo[u] && shift(u, v)) ||
        order.some((u) => u !== v && lead[u] === leaders.lo[u] && shift(u, v));
      if (!ok) break;
      if (slack > 0 && --slack === 0) break;
    }
  }
  return moves;
}

/** True when every broker's leader count lies in [lo, hi]. */
export function leadersWithin(work: WorkPartition[], n: number, t: Targets): boolean {
  const lead = new Int32Array(n);
  for (const w of work) lead[w.replicas[0]]++;
  for (let b = 0; b < n; b++) if (lead[b] < t.lo[b] || lead[b] > t.hi[b]) return false;
  return true;
}
