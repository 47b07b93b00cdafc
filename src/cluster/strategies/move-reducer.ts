import { type Cluster, fits, type WorkPartition } from "./model.ts";
import type { Targets } from "./targets.ts";

/**
 * Removes moves the greedy balancer spent needlessly, in place, keeping every broker within [lo, hi] and
 * every rule. Choosing which broker holds each replica is a min-cost b-matching (partition → broker, cost 1
 * for a broker the partition did not hold, broker loads within [lo, hi]); a matching is cheapest exactly when
 * its residual graph has no negative cycle. On brokers that graph has an arc x → y of cost
 * [y new to p] − [x new to p] for each partition p that could hand its replica on x to y, plus arcs through a
 * virtual node for brokers that may lose (count > lo) or gain (count < hi) one. Bellman–Ford finds a negative
 * cycle, its hand-overs are applied (each on a different partition), and that repeats until none is left:
 * each round saves at least one move. Called only when the result moved more than the lower bound, so a
 * balance that is already minimal costs nothing.
 *
 * `before[p]` is the partition's replicas before balancing (-1 for a departed one).
 */
export function reduceMoves(work: WorkPartition[], c: Cluster, t: Targets, before: number[][], bound: number): void {
  const n = c.ids.length;
  if (n < 2) return;
  const had = (p: number, b: number) => before[p].includes(b);
  let moved = 0;
  for (let p = 0; p < work.length; p++) for (const r of work[p].replicas) if (!had(p, r)) moved++;
  const count = new Int32Array(n);
  for (const w of work) for (const r of w.replicas) count[r]++;
  const hosted: number[][] = Array.from({ length: n }, () => []);
  for (let p = 0; p < work.length; p++) for (const r of work[p].replicas) hosted[r].push(p);
  const S = n; // the virtual node
  const N = n + 1;
  const best = new Int8Array(N * N);
  const dist = new Int32Array(N), pred = new Int32Array(N);
  const mark = new Uint8Array(n);
  // Each round costs about replicas × n + n³ steps; the whole pass stays within ~5·10⁶ of them (some
  // milliseconds), so a large cluster whose gap the rack rule forces skips it rather than stalling.
  let replicas = 0;
  for (const w of work) replicas += w.replicas.length;
  const rounds = Math.min(64, Math.floor(5e6 / (replicas * n + N * N * N)));
  for (let round = 0; round < rounds && moved > bound; round++) {
    best.fill(2); // 2: no arc
    for (let p = 0; p < work.length; p++) {
      const reps = work[p].replicas;
      // mark[y]: 2 when p holds y now, 1 when it held y before (a hand-over to y restores a replica), else 0.
      for (const y of before[p]) if (y >= 0) mark[y] = 1;
      for (const y of reps) mark[y] = 2;
      for (let s = 0; s < reps.length; s++) {
        const x = reps[s];
        const xNew = had(p, x) ? 0 : 1;
        const row = x * N;
        for (let y = 0; y < n; y++) {
          const m = mark[y];
          if (m === 2) continue;
          const cost = (m === 1 ? 0 : 1) - xNew;
          if (cost < best[row + y] && fits(c, reps, s, y)) best[row + y] = cost;
        }
      }
      for (const y of before[p]) if (y >= 0) mark[y] = 0;
      for (const y of reps) mark[y] = 0;
    }
    for (let b = 0; b < n; b++) {
      if (count[b] > t.lo[b]) best[S * N + b] = 0;
      if (count[b] < t.hi[b]) best[b * N + S] = 0;
    }
    const cycle = negativeCycle(best, N, dist, pred);
    if (!cycle) return;
    // Apply the hand-overs x → y of the cycle, each on its own partition; undo all if one finds none.
    const done: Array<[number, number, number]> = []; // [partition, slot, from]
    const used = new Set<number>();
    let gain = 0, ok = true;
    for (let k = 0; k < cycle.length && ok; k++) {
      const x = cycle[k], y = cycle[(k + 1) % cycle.length];
      if (x === S || y === S) continue;
      const want = best[x * N + y];
      ok = false;
      for (const p of hosted[x]) {
        const reps = work[p].replicas;
        const s = reps.indexOf(x);
        if (s < 0 || used.has(p) || reps.includes(y)) continue;
        const cost = (had(p, y) ? 0 : 1) - (had(p, x) ? 0 : 1);
        if (cost !== want || !fits(c, reps, s, y)) continue;
        reps[s] = y;
        count[x]--, count[y]++;
        hosted[y].push(p);
        used.add(p);
        done.push([p, s, x]);
        gain -= cost;
        ok = true;
        break;
      }
    }
    if (!ok || gain <= 0) {
      for (let k = done.length - 1; k >= 0; k--) {
        const [p, s, x] = done[k];
        const y = work[p].replicas[s];
        work[p].replicas[s] = x;
        count[y]--, count[x]++;
      }
      return;
    }
    moved -= gain;
  }
}

/** A negative-cost cycle (as its node sequence) in the dense arc matrix, or null. Arc cost 2 means none. */
function negativeCycle(best: Int8Array, N: number, dist: Int32Array, pred: Int32Array): number[] | null {
  dist.fill(0);
  pred.fill(-1);
  let last = -1;
  for (let i = 0; i < N; i++) {
    last = -1;
    for (let x = 0; x < N; x++) {
      const dx = dist[x];
      for (let y = 0; y < N; y++) {
        const w = best[x * N + y];
        if (w === 2 || x === y) continue;
        if (dx + w < dist[y]) (dist[y] = dx + w), (pred[y] = x), (last = y);
      }
    }
    if (last < 0) return null;
  }
  // Still relaxing after N rounds: walking back N steps from `last` lands on the cycle.
  let v = last;
  for (let i = 0; i < N && v >= 0; i++) v = pred[v];
  if (v < 0) return null;
  const cycle: number[] = [];
  for (let u = v; ; u = pred[u]) {
    cycle.push(u);
    if (u === v && cycle.length > 1) break;
  }
  cycle.pop();
  return cycle.reverse();
}
