import type { WorkPartition } from "./model.ts";

/** Optional veto on moving partition p's leadership from one broker to another (per-topic bounds). */
export interface LeaderGuard {
  allow(p: number, from: number, to: number): boolean;
  moved(p: number, from: number, to: number): void;
}

/**
 * Balances leaderships by reordering replicas only (no data moves), in place: replicas[0] of each partition in
 * `subset` is its leader. Brokers above hi hand leaderships down augmenting paths (u leads p, p has replica w,
 * w leads q, ... until a broker below hi), then brokers below lo pull them the same way. This is a b-matching
 * of partitions to their own replicas, so it reaches every broker within [lo, hi] whenever that is possible,
 * and it changes only leaderships on some path, so a balanced input is left as it is.
 */
export function balanceLeaders(
  work: WorkPartition[],
  subset: number[],
  n: number,
  lo: ArrayLike<number>,
  hi: ArrayLike<number>,
  guard?: LeaderGuard,
): void {
  const cnt = new Int32Array(n);
  for (const p of subset) cnt[work[p].replicas[0]]++;
  let balanced = true;
  for (let b = 0; b < n && balanced; b++) balanced = cnt[b] >= lo[b] && cnt[b] <= hi[b];
  if (balanced) return;
  cnt.fill(0);
  const ledBy: number[][] = Array.from({ length: n }, () => []);
  for (const p of subset) {
    const reps = work[p].replicas;
    cnt[reps[0]]++;
    ledBy[reps[0]].push(p);
  }
  // Partitions per replica broker: only phase B needs them. Membership never changes here (reordering only).
  let memberLists: number[][] | null = null;
  const member = (b: number): number[] => {
    if (!memberLists) {
      memberLists = Array.from({ length: n }, () => []);
      for (const p of subset) for (const r of work[p].replicas) memberLists[r].push(p);
    }
    return memberLists[b];
  };
  const seen = new Int32Array(n);
  let stamp = 0;
  const viaPart = new Int32Array(n);
  const viaBroker = new Int32Array(n);

  const transfer = (p: number, to: number) => {
    const reps = work[p].replicas;
    const from = reps[0];
    const j = reps.indexOf(to);
    reps.splice(j, 1);
    reps.unshift(to);
    cnt[from]--;
    cnt[to]++;
    ledBy[to].push(p);
    guard?.moved(p, from, to);
  };

  // Phase A: push leaderships from brokers above hi toward brokers below hi.
  for (let u = 0; u < n; u++) {
    while (cnt[u] > hi[u]) {
      const end = search(u, true);
      if (end < 0) break;
      for (let z = end; z !== u; ) {
        const from = viaBroker[z];
        transfer(viaPart[z], z);
        z = from;
      }
    }
  }
  // Phase B: pull leaderships to brokers below lo from brokers above lo.
  for (let v = 0; v < n; v++) {
    while (cnt[v] < lo[v]) {
      const end = search(v, false);
      if (end < 0) break;
      // Path v <- w1 <- w2 ... <- end: w_i leads viaPart[w_i] which goes to the broker before it.
      const chain: number[] = [];
      for (let z = end; z !== v; z = viaBroker[z]) chain.push(z);
      chain.reverse();
      let to = v;
      for (const z of chain) {
        transfer(viaPart[z], to);
        to = z;
      }
    }
  }

  /**
   * BFS over brokers. down: from `start`, edges w -> r when w leads p and r is a replica of p; ends at a broker
   * below hi. up: from `start`, edges w -> u when u leads a partition p that w hosts; ends at a broker above lo.
   */
  function search(start: number, down: boolean): number {
    const s = ++stamp;
    seen[start] = s;
    const queue = [start];
    for (let qi = 0; qi < queue.length; qi++) {
      const w = queue[qi];
      const parts = down ? ledBy[w] : member(w);
      for (const p of parts) {
        const reps = work[p].replicas;
        if (down) {
          if (reps[0] !== w) continue;
          for (let j = 1; j < reps.length; j++) {
            const r = reps[j];
            if (seen[r] === s || (guard && !guard.allow(p, w, r))) continue;
            seen[r] = s;
            viaPart[r] = p;
            viaBroker[r] = w;
            if (cnt[r] < hi[r]) return r;
            queue.push(r);
          }
        } else {
          const u = reps[0];
          if (u === w || seen[u] === s || !reps.includes(w) || (guard && !guard.allow(p, u, w))) continue;
          seen[u] = s;
          viaPart[u] = p;
          viaBroker[u] = w;
          if (cnt[u] > lo[u]) return u;
          queue.push(u);
        }
      }
    }
    return -1;
  }
}
