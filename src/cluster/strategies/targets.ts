import { StreamBusError } from "../../errors.ts";
import { type Cluster, rackCap } from "./model.ts";

/**
 * Balanced targets per broker. `x` is the real-valued fair share; a broker is balanced when its count lies in
 * [lo, hi] = [⌊x⌋, ⌈x⌉]. `group` tells which brokers share an integer total (a rack pinned at a bound, or all
 * the free brokers) so integer targets can be rounded without breaking rack bounds.
 *
 * The rule: shares are proportional to `capacity` (default 1), capped by maxPartitionsPerBroker and by one
 * replica per partition; when rack aware, each rack's total is kept within what the rack rule lets it hold
 * (a lone broker in its own rack must take one replica of every partition, say) and the rest is shared
 * proportionally among the other racks. With equal capacities and no binding cap this is total / brokers.
 */
export interface Targets {
  x: Float64Array;
  lo: Int32Array;
  hi: Int32Array;
  group: Int32Array;
}

/** Replica targets for partitions with the given replication factors. */
export function replicaTargets(c: Cluster, factors: number[]): Targets {
  const n = c.ids.length;
  const total = factors.reduce((s, f) => s + f, 0);
  const caps = new Float64Array(n).fill(Math.min(c.maxPerBroker, factors.length));
  let capSum = 0;
  for (let i = 0; i < n; i++) capSum += caps[i];
  if (capSum < total) {
    throw new StreamBusError(
      "Invalid",
      `${total} replicas do not fit on ${n} eligible broker(s) with maxPartitionsPerBroker ${c.maxPerBroker}; ` +
        "raise the limit or add brokers",
      { replicas: total, maxPartitionsPerBroker: c.maxPerBroker },
    );
  }
  let bounds: { lo: Float64Array; hi: Float64Array; forced: Float64Array } | undefined;
  if (c.rackAware && c.rackCount > 1) {
    const byFactor = new Map<number, number>();
    for (const f of factors) byFactor.set(f, (byFactor.get(f) ?? 0) + 1);
    const lo = new Float64Array(c.rackCount), hi = new Float64Array(c.rackCount), forced = new Float64Array(c.rackCount);
    for (const [f, count] of byFactor) {
      let room = 0;
      for (let r = 0; r < c.rackCount; r++) room += rackCap(c, f, r);
      for (let r = 0; r < c.rackCount; r++) {
        const cap = rackCap(c, f, r);
        const least = Math.max(f >= c.rackCount ? 1 : 0, f - (room - cap));
        lo[r] += count * least;
        hi[r] += count * cap;
        if (least >= c.rackSize[r]) forced[r] += count;
      }
    }
    bounds = { lo, hi, forced };
  }
  // A broker must hold a replica of a partition when its rack (or, without racks, the cluster) has no
  // spare broker for it: RF equal to the broker count, or a rack that must hold as many replicas as it has brokers.
  const floors = new Float64Array(n);
  if (bounds) for (let i = 0; i < n; i++) floors[i] = bounds.forced[c.rackOf[i]];
  else floors.fill(factors.reduce((k, f) => k + (f >= n ? 1 : 0), 0));
  const t = computeTargets(c, total, caps, bounds, floors);
  return bounds ? t : limitByPrefixes(c, t, factors, caps, floors);
}

/**
 * Gale–Ryser: the k brokers with the largest shares can hold at most Σ_p min(RF_p, k) replicas together (one
 * per partition each). Only binds with strongly unequal capacities and few partitions; then the top group's
 * shares are scaled down to that limit and the rest spread over the others.
 */
function limitByPrefixes(c: Cluster, t: Targets, factors: number[], caps: Float64Array, floors: Float64Array): Targets {
  const n = c.ids.length;
  const byFactor = new Map<number, number>();
  for (const f of factors) byFactor.set(f, (byFactor.get(f) ?? 0) + 1);
  const limit = (k: number) => {
    let m = 0;
    for (const [f, count] of byFactor) m += count * Math.min(f, k);
    return m;
  };
  const total = factors.reduce((a, f) => a + f, 0);
  const x = Float64Array.from(t.x);
  // ... and the k brokers with the smallest shares must hold at least Σ_p max(0, RF_p − (n − k)).
  const least = (k: number) => {
    let m = 0;
    for (const [f, count] of byFactor) m += count * Math.max(0, f - (n - k));
    return m;
  };
  let changed = false;
  for (let round = 0; round < 2 * n; round++) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[b] - x[a] || a - b);
    let sum = 0, k = 0;
    for (; k < n; k++) {
      sum += x[order[k]];
      if (sum > limit(k + 1) + 1e-9) break;
    }
    if (k < n) {
      const top = order.slice(0, k + 1), rest = order.slice(k + 1);
      fill(limit(k + 1), top, c.weight, caps, x, floors);
      fill(total - limit(k + 1), rest, c.weight, caps, x, floors);
      changed = true;
      continue;
    }
    order.reverse();
    sum = 0;
    for (k = 0; k < n; k++) {
      sum += x[order[k]];
      if (sum < least(k + 1) - 1e-9) break;
    }
    if (k === n) break;
    const bottom = order.slice(0, k + 1), rest = order.slice(k + 1);
    fill(least(k + 1), bottom, c.weight, caps, x, floors);
    fill(total - least(k + 1), rest, c.weight, caps, x, floors);
    changed = true;
  }
  if (!changed) return t;
  return { ...withBounds(x), group: t.group };
}

function withBounds(x: Float64Array): { x: Float64Array; lo: Int32Array; hi: Int32Array } {
  const lo = new Int32Array(x.length), hi = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const eps = 1e-9 * Math.max(1, x[i]);
    lo[i] = Math.floor(x[i] + eps);
    hi[i] = Math.ceil(x[i] - eps);
  }
  return { x, lo, hi };
}

/** Leader targets: one leader per partition, a broker leads at most the partitions it hosts. */
export function leaderTargets(c: Cluster, partitions: number, hosted: ArrayLike<number>): Targets {
  const caps = Float64Array.from(hosted);
  return computeTargets(c, partitions, caps);
}

/** Proportional shares of `total` over brokers, capped per broker and (optionally) bounded per rack. */
export function computeTargets(
  c: Cluster,
  total: number,
  caps: Float64Array,
  rackBounds?: { lo: Float64Array; hi: Float64Array },
  floors?: Float64Array,
): Targets {
  const n = c.ids.length;
  const x = new Float64Array(n);
  const group = new Int32Array(n);
  const all = Array.from({ length: n }, (_, i) => i);
  if (!rackBounds) {
    fill(total, all, c.weight, caps, x, floors);
  } else {
    const k = c.rackCount;
    const members: number[][] = Array.from({ length: k }, () => []);
    for (let i = 0; i < n; i++) members[c.rackOf[i]].push(i);
    const hiEff = new Float64Array(k);
    for (let r = 0; r < k; r++) hiEff[r] = Math.min(rackBounds.hi[r], members[r].reduce((s, i) => s + caps[i], 0));
    let loSum = 0, hiSum = 0;
    for (let r = 0; r < k; r++) (loSum += rackBounds.lo[r]), (hiSum += hiEff[r]);
    if (loSum > total + 1e-9 || hiSum < total - 1e-9) {
      throw new StreamBusError("Invalid", "the rack rule cannot be met with these brokers and limits; disable rackAware or add brokers");
    }
    // Which racks are pinned at a bound: found by bisection on the common level, then solved exactly.
    const unclamped = (lambda: number, r: number) =>
      members[r].reduce((s, i) => s + Math.min(caps[i], Math.max(floors ? floors[i] : 0, lambda * c.weight[i])), 0);
    const clampedSum = (lambda: number) => {
      let s = 0;
      for (let r = 0; r < k; r++) s += Math.min(hiEff[r], Math.max(rackBounds.lo[r], unclamped(lambda, r)));
      return s;
    };
    let a = 0, b = 1;
    while (clampedSum(b) < total && b < 1e15) b *= 2;
    for (let it = 0; it < 80; it++) {
      const m = (a + b) / 2;
      if (clampedSum(m) < total) a = m;
      else b = m;
    }
    const lambda = (a + b) / 2;
    const tol = 1e-7 * Math.max(1, total);
    const fixed = new Float64Array(k).fill(-1);
    for (let r = 0; r < k; r++) {
      const u = unclamped(lambda, r);
      if (u < rackBounds.lo[r] - tol) fixed[r] = rackBounds.lo[r];
      else if (u > hiEff[r] + tol) fixed[r] = hiEff[r];
    }
    for (let round = 0; round <= k; round++) {
      const free = all.filter((i) => fixed[c.rackOf[i]] < 0);
      let rest = total;
      for (let r = 0; r < k; r++) if (fixed[r] >= 0) rest -= fixed[r];
      fill(rest, free, c.weight, caps, x, floors);
      let changed = false;
      for (let r = 0; r < k; r++) {
        if (fixed[r] >= 0) continue;
        const s = members[r].reduce((acc, i) => acc + x[i], 0);
        if (s < rackBounds.lo[r] - tol) (fixed[r] = rackBounds.lo[r]), (changed = true);
        else if (s > hiEff[r] + tol) (fixed[r] = hiEff[r]), (changed = true);
      }
      if (!changed) break;
    }
    for (let r = 0; r < k; r++) {
      if (fixed[r] < 0) continue;
      fill(fixed[r], members[r], c.weight, caps, x, floors);
      for (const i of members[r]) group[i] = r + 1;
    }
  }
  return { ...withBounds(x), group };
}

/**
 * Integer targets in [lo, hi] summing to each group's total; the +1s go to the largest fractional shares,
 * ties to `prefer` (higher first), then to the lower index.
 */
export function integerTargets(t: Targets, prefer?: ArrayLike<number>): Int32Array {
  const n = t.x.length;
  const out = Int32Array.from(t.lo);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const g = groups.get(t.group[i]);
    if (g) g.push(i);
    else groups.set(t.group[i], [i]);
  }
  for (const members of groups.values()) {
    let extra = Math.round(members.reduce((s, i) => s + t.x[i] - t.lo[i], 0));
    const order = members.filter((i) => t.hi[i] > t.lo[i]).sort((a, b) => {
      const fa = t.x[a] - t.lo[a], fb = t.x[b] - t.lo[b];
      if (Math.abs(fa - fb) > 1e-9) return fb - fa;
      if (prefer && prefer[a] !== prefer[b]) return prefer[b] - prefer[a];
      return a - b;
    });
    for (const i of order) {
      if (extra <= 0) break;
      out[i]++;
      extra--;
    }
  }
  return out;
}

/**
 * Water-filling: x[i] = clamp(λ·w[i], floor[i], cap[i]) with Σ x = total over `idx`. The level λ is found by
 * bisection, then recomputed exactly over the brokers that no bound pins, so equal weights give exactly
 * total / n.
 */
function fill(total: number, idx: number[], w: Float64Array, cap: Float64Array, x: Float64Array, floor?: Float64Array): void {
  let weightSum = 0;
  for (const i of idx) weightSum += w[i];
  const lower = (i: number) => (floor ? floor[i] : 0);
  let bound = false;
  for (const i of idx) {
    const share = weightSum > 0 ? (total * w[i]) / weightSum : 0;
    if (share > cap[i] || share < lower(i)) bound = true;
  }
  if (!bound) {
    for (const i of idx) x[i] = weightSum > 0 ? (total * w[i]) / weightSum : 0;
    return;
  }
  const level = (lambda: number) => {
    let s = 0;
    for (const i of idx) s += Math.min(cap[i], Math.max(lower(i), lambda * w[i]));
    return s;
  };
  let a = 0, b = 1;
  while (level(b) < total && b < 1e15) b *= 2;
  for (let it = 0; it < 100; it++) {
    const m = (a + b) / 2;
    if (level(m) < total) a = m;
    else b = m;
  }
  const lambda = (a + b) / 2;
  let rest = total, freeWeight = 0;
  const free: number[] = [];
  for (const i of idx) {
    const v = lambda * w[i];
    const tol = 1e-9 * Math.max(1, v);
    if (v <= lower(i) + tol) (x[i] = lower(i)), (rest -= x[i]);
    else if (v >= cap[i] - tol) (x[i] = cap[i]), (rest -= x[i]);
    else free.push(i), (freeWeight += w[i]);
  }
  for (const i of free) x[i] = (rest * w[i]) / freeWeight;
}
