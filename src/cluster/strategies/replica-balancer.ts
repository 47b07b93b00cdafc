import { StreamBusError } from "../../errors.ts";
import { MinHeap } from "./heap.ts";
import { breaksRackRule, type Cluster, fits, rackCap, type WorkPartition } from "./model.ts";
import type { Targets } from "./targets.ts";

/**
 * Brings every eligible broker's replica count into [lo, hi] with as few replica moves as the rules allow,
 * in place. Every replica already on an eligible broker that is not over its target stays; only
 *   1. empty slots (replicas of departed or ineligible brokers) and replicas breaking the rack rule,
 *   2. the surplus of brokers above hi, and
 *   3. what brokers below lo still lack
 * move, each to a broker that needs it. So the move count is the lower bound max(Σ surplus, Σ deficit)
 * (`minimumMoves`) unless the rack rule or distinctness blocks every direct move; then a short chain through
 * a third broker (one extra move) is used, and only when no chain exists is a broker left off target.
 * Empty slots are first placed as a maximum matching (augmenting paths through slots placed in this pass), so
 * extra moves go only to slots the rules leave no direct home; with racks that is the rack-constrained
 * minimum in the cases tested. Should that leave a broker off target, the older greedy order is run too and
 * the better result kept. Returns the number of replicas moved.
 */
export function balanceReplicas(work: WorkPartition[], c: Cluster, t: Targets): number {
  const first = balance(work, c, t, true);
  if (first.broken === 0 && first.off === 0) return first.moved;
  // Off target: the matching order (which defers chains) can strand a slot in a tight cluster where placing
  // chains as they come does not. Try that too and keep the better result: fewer rule breaks, then fewer
  // brokers off target, then fewer moves. Both runs are deterministic, so the choice is too.
  const matched = new Map([...first.original.keys()].map((p) => [p, work[p].replicas]));
  first.undo();
  const second = balance(work, c, t, false);
  if ((first.broken - second.broken || first.off - second.off || first.moved - second.moved) <= 0) {
    second.undo();
    for (const [p, reps] of matched) work[p].replicas = reps;
    return first.moved;
  }
  return second.moved;
}

interface Outcome {
  /** Touched partitions rack rule breaks, brokers outside [lo, hi], replicas moved. */
  broken: number;
  off: number;
  moved: number;
  /** Replicas before the pass of every partition it changed. */
  original: Map<number, number[]>;
  undo(): void;
}

/**
 * One balancing pass. `matching` defers slots that need an extra move until every other slot is placed and
 * searches augmenting paths of any length; without it, each slot takes a chain as soon as it needs one.
 */
function balance(work: WorkPartition[], c: Cluster, t: Targets, matching: boolean): Outcome {
  const n = c.ids.length;
  const { lo, hi } = t;
  // Total effort for chain searches in one call, so an unreachable target costs milliseconds, not seconds.
  let searchBudget = 300_000;
  // Augmenting-path searches have their own allowance, so they never starve the chain searches above.
  let rerouteBudget = 1_000_000;
  const count = new Int32Array(n);
  let clean = true;
  for (const w of work) {
    for (const r of w.replicas) r >= 0 ? count[r]++ : (clean = false);
    if (clean && breaksRackRule(c, w.replicas)) clean = false;
  }
  for (let b = 0; b < n && clean; b++) clean = count[b] >= lo[b] && count[b] <= hi[b];
  const original = new Map<number, number[]>();
  const touch = (p: number) => original.has(p) || original.set(p, work[p].replicas.slice());
  const outcome = (): Outcome => {
    let broken = 0, moved = 0, off = 0;
    for (const [p, before] of original) {
      for (const r of work[p].replicas) if (!before.includes(r)) moved++;
      if (breaksRackRule(c, work[p].replicas)) broken++;
    }
    for (let b = 0; b < n; b++) if (count[b] < lo[b] || count[b] > hi[b]) off++;
    return { broken, off, moved, original, undo: () => original.forEach((reps, p) => (work[p].replicas = reps)) };
  };
  if (clean) return outcome(); // already balanced: nothing moves
  // Partitions per broker, built on first use (filling empty slots alone never needs it). Lists only grow;
  // an entry is current when the partition still holds the broker.
  let hostedLists: number[][] | null = null;
  const hosted = (b: number): number[] => {
    if (!hostedLists) {
      hostedLists = Array.from({ length: n }, () => []);
      for (let p = 0; p < work.length; p++) for (const r of work[p].replicas) if (r >= 0) hostedLists[r].push(p);
    }
    return hostedLists[b];
  };
  // Leaderships per broker against a capacity-weighted share: a broker that must give leaderships away
  // (its single-replica partitions cannot be led by anyone else) moves the partitions it leads first.
  const lead = new Int32Array(n);
  for (const w of work) if (w.replicas[0] >= 0) lead[w.replicas[0]]++;
  let weightSum = 0;
  for (let b = 0; b < n; b++) weightSum += c.weight[b];
  const leadHi = (b: number) => Math.ceil((work.length * c.weight[b]) / weightSum - 1e-9);
  const leadersFirst = (u: number) => lead[u] > leadHi(u);

  // 1. Evict replicas that break the rack rule, from the most loaded broker of the most crowded rack.
  if (c.rackAware && c.rackCount > 1) {
    for (let p = 0; p < work.length; p++) {
      const w = work[p];
      while (breaksRackRule(c, w.replicas)) {
        const byRack = new Map<number, number>();
        for (const r of w.replicas) if (r >= 0) byRack.set(c.rackOf[r], (byRack.get(c.rackOf[r]) ?? 0) + 1);
        let worstRack = -1, worst = 0;
        for (const [rk, k] of byRack) {
          const over = k - rackCap(c, w.replicas.length, rk);
          if (k > 1 && (over > worst || worstRack < 0 || (over === worst && k > byRack.get(worstRack)!))) {
            (worstRack = rk), (worst = over);
          }
        }
        if (worstRack < 0) break;
        let slot = -1;
        for (let j = w.replicas.length - 1; j >= 0; j--) {
          const r = w.replicas[j];
          if (r < 0 || c.rackOf[r] !== worstRack) continue;
          if (slot < 0 || count[r] - hi[r] > count[w.replicas[slot]] - hi[w.replicas[slot]]) slot = j;
        }
        touch(p);
        count[w.replicas[slot]]--;
        w.replicas[slot] = -1;
      }
    }
  }

  // Receivers: most urgent first. A broker below lo is urgent by its deficit plus the empty slots it cannot
  // take because it already hosts their partition (Havel–Hakimi: a broker that must join almost every
  // partition takes its slots before they are gone). Key parity says whether the broker still has room.
  const holesWith = new Int32Array(n);
  for (const w of work) {
    let holes = 0;
    for (const r of w.replicas) if (r < 0) holes++;
    if (holes > 0) for (const r of w.replicas) if (r >= 0) holesWith[r] += holes;
  }
  const recvKey = (b: number) =>
    (count[b] < lo[b] ? count[b] - lo[b] - holesWith[b] : count[b] - lo[b]) * 2 + (count[b] < hi[b] ? 0 : 1);
  const receivers = new MinHeap();
  for (let b = 0; b < n; b++) receivers.push(recvKey(b), b, b);
  const stash: number[] = [];
  // Brokers already popped in this pick: the heap holds duplicates (a broker is pushed again whenever its
  // key may have changed), and re-pushing each copy kept them all, so every pick walked all of them.
  const picked = new Int32Array(n);
  let pickStamp = 0;

  /**
   * Best broker with room that may take `slot` of partition p; -1 when none. A leader slot first looks for a
   * broker still below its leadership share, so single-replica partitions do not pile leaderships up.
   */
  const pickReceiver = (p: number, slot: number, needyOnly = false): number => {
    if (slot === 0) {
      const v = pickFrom(p, slot, true, needyOnly);
      if (v >= 0) return v;
    }
    return pickFrom(p, slot, false, needyOnly);
  };
  const pickFrom = (p: number, slot: number, leaderShare: boolean, needyOnly: boolean): number => {
    let found = -1, sawNeedy = false;
    const stamp = ++pickStamp;
    while (receivers.size > 0) {
      const e = receivers.pop()!;
      const b = e.value;
      if (e.key !== recvKey(b) || picked[b] === stamp) continue; // stale entry or a copy
      picked[b] = stamp;
      stash.push(b);
      if (count[b] >= hi[b]) break; // every remaining broker is full
      if (needyOnly && count[b] >= lo[b]) break;
      // The leadership preference never sends a replica past a broker that still needs one to reach lo.
      if (leaderShare && count[b] >= lo[b] && sawNeedy) break;
      if (count[b] < lo[b] && fits(c, work[p].replicas, slot, b)) sawNeedy = true;
      if (leaderShare && lead[b] >= leadHi(b)) continue;
      if (fits(c, work[p].replicas, slot, b)) {
        found = b;
        break;
      }
    }
    for (const b of stash) if (b !== found) receivers.push(recvKey(b), b, b);
    stash.length = 0;
    return found;
  };

  const place = (p: number, slot: number, to: number) => {
    touch(p);
    const from = work[p].replicas[slot];
    if (from >= 0) {
      count[from]--;
      receivers.push(recvKey(from), from, from);
    }
    work[p].replicas[slot] = to;
    if (slot === 0) {
      if (from >= 0) lead[from]--;
      lead[to]++;
    }
    count[to]++;
    hostedLists?.[to].push(p);
    receivers.push(recvKey(to), to, to);
  };

  // 2. Fill empty slots. `filled` remembers which slots each broker got here, so a later slot that finds
  // every allowed broker full can take one of them and send that earlier slot elsewhere: an augmenting path
  // that costs no extra move, since both slots move anyway. Slots with no such path wait until every other
  // slot is placed (the placement is then a maximum matching of slots to room); only then does each take a
  // chain, whose extra move uses room that matching left spare, so it never blocks another slot. Placing
  // chains early can spend room a later slot needed (the rack rule ties many slots to few racks).
  const filled: number[][] = Array.from({ length: n }, () => []);
  const deferred: number[] = [];
  for (let p = 0; p < work.length; p++) {
    const reps = work[p].replicas;
    for (let s = 0; s < reps.length; s++) {
      if (reps[s] >= 0) continue;
      // This slot is no longer open to the partition's other replicas; the new one sees the rest.
      let holesLeft = 0;
      for (let j = 0; j < reps.length; j++) {
        if (reps[j] >= 0) holesWith[reps[j]]--, receivers.push(recvKey(reps[j]), reps[j], reps[j]);
        else if (j !== s) holesLeft++;
      }
      const v = pickReceiver(p, s);
      if (v >= 0) place(p, s, v);
      else if (!reroute(p, s)) {
        if (matching) {
          deferred.push(p * 1024 + s);
          continue;
        }
        if (!chain(p, s)) place(p, s, lastResort(p, s));
      }
      filled[reps[s]].push(p * 1024 + s);
      holesWith[reps[s]] += holesLeft;
      receivers.push(recvKey(reps[s]), reps[s], reps[s]);
    }
  }
  for (const code of deferred) {
    const p = Math.floor(code / 1024), s = code % 1024;
    const v = pickReceiver(p, s);
    if (v >= 0) place(p, s, v);
    else if (!reroute(p, s, true) && !chain(p, s)) place(p, s, lastResort(p, s));
    filled[work[p].replicas[s]].push(code);
  }

  // 3. Shed surplus: followers first, so leaderships stay where they are when possible.
  shedAll();

  // 4. Raise brokers below lo, taking from the brokers furthest above their own lo.
  // Among equal donors, the one leading the most beyond its share gives first (its leadership is pinned by
  // single-replica partitions more often than not).
  const donors = new MinHeap();
  const donorKey = (b: number) => lo[b] - count[b];
  const donorTie = (b: number) => (leadHi(b) - lead[b]) * n + b;
  for (let b = 0; b < n; b++) donors.push(donorKey(b), donorTie(b), b);
  for (let v = 0; v < n; v++) {
    const tried: number[] = [];
    while (count[v] < lo[v] && donors.size > 0) {
      const e = donors.pop()!;
      const u = e.value;
      if (e.key !== donorKey(u)) continue;
      if (count[u] <= lo[u]) {
        tried.push(u);
        break;
      }
      let moved = false;
      for (let pass = 0; pass < 2 && !moved; pass++) {
        for (const p of hosted(u)) {
          const s = work[p].replicas.indexOf(u);
          if (s < 0 || (pass === 0) !== (s > 0) !== leadersFirst(u)) continue;
          if (fits(c, work[p].replicas, s, v)) {
            place(p, s, v);
            donors.push(donorKey(u), donorTie(u), u);
            moved = true;
            break;
          }
        }
      }
      if (!moved) tried.push(u);
    }
    for (const u of tried) donors.push(donorKey(u), donorTie(u), u);
    while (count[v] < lo[v] && chainInto(v));
  }

  /**
   * Homes (p, slot) when every broker allowed for it is full: an augmenting path through the slots filled in
   * this pass. A full broker w1 takes the slot, one of w1's new slots goes to w2, ..., the last to a broker
   * with room. Every slot on the path moves anyway, so this costs no extra move. Breadth first over brokers
   * (shortest path); one level is not enough when the rack rule ties slots to few racks. With `extraMove`, a
   * broker on the path may instead hand any replica it hosts to a broker with room: one extra move.
   */
  function reroute(p: number, slot: number, extraMove = false): boolean {
    let budget = matching ? Math.min(100_000, rerouteBudget) : Math.min(50_000, searchBudget);
    // from[w] = broker whose new slot w takes on the path (-1: w takes (p, slot) itself); via[w] = that slot.
    const from = new Int32Array(n).fill(-2), via = new Int32Array(n);
    const queue: number[] = [];
    for (let w = 0; w < n; w++) {
      if (count[w] >= c.maxPerBroker || !fits(c, work[p].replicas, slot, w)) continue;
      from[w] = -1;
      queue.push(w);
    }
    for (let head = 0; head < queue.length; head++) {
      const w = queue[head];
      for (const code of filled[w]) {
        const q = Math.floor(code / 1024), qs = code % 1024;
        if (q === p || work[q].replicas[qs] !== w) continue;
        // Each step scans every broker, so it costs n of the budget (one level only: 1, from the chains' budget).
        if (matching ? (budget -= n) < 0 || (rerouteBudget -= n) < 0 : --budget < 0 || --searchBudget < 0) return false;
        const end = pickReceiver(q, qs);
        if (end >= 0) return applyPath(p, slot, w, code, end);
        for (let w2 = 0; w2 < n && matching; w2++) {
          if (from[w2] !== -2 || !fits(c, work[q].replicas, qs, w2)) continue;
          (from[w2] = w), (via[w2] = code);
          queue.push(w2);
        }
      }
      if (!extraMove) continue;
      for (const q of hosted(w)) {
        const qs = work[q].replicas.indexOf(w);
        if (q === p || qs < 0) continue;
        if ((budget -= n) < 0 || (rerouteBudget -= n) < 0) return false;
        const end = pickReceiver(q, qs);
        if (end >= 0 && applyPath(p, slot, w, q * 1024 + qs, end)) return true;
      }
    }
    return false;

    /** Shifts the path ending with slot `code` (now on w) moving to `end`; undone if a step no longer fits. */
    function applyPath(p: number, slot: number, w: number, code: number, end: number): boolean {
      const steps: Array<[number, number, number]> = []; // [slot code, from broker, to broker]
      for (let to = end, at = w, cur = code; ; ) {
        steps.push([cur, at, to]);
        if (from[at] === -1) break;
        (to = at), (cur = via[at]), (at = from[at]);
      }
      const first = steps[steps.length - 1][1];
      const done: Array<[number, number]> = [];
      for (const [cur, at, to] of steps) {
        const q = Math.floor(cur / 1024), qs = cur % 1024;
        if (work[q].replicas[qs] !== at || !fits(c, work[q].replicas, qs, to)) {
          for (let k = done.length - 1; k >= 0; k--) place(Math.floor(done[k][0] / 1024), done[k][0] % 1024, done[k][1]);
          return false;
        }
        place(q, qs, to);
        filled[to].push(cur);
        done.push([cur, at]);
      }
      if (!fits(c, work[p].replicas, slot, first)) {
        for (let k = done.length - 1; k >= 0; k--) place(Math.floor(done[k][0] / 1024), done[k][0] % 1024, done[k][1]);
        return false;
      }
      place(p, slot, first);
      return true;
    }
  }

  /**
   * Moves `slot` of partition p (empty, or a replica of an over-full broker) to some broker w that has no
   * room, and one of w's replicas on to a broker with room: two moves where no single one is allowed.
   */
  function chain(p: number, slot: number): boolean {
    const reps = work[p].replicas;
    let budget = Math.min(100_000, searchBudget);
    for (let w = 0; w < n && budget > 0; w++) {
      if (count[w] < hi[w] || !fits(c, reps, slot, w)) continue;
      for (const q of hosted(w)) {
        if (--budget < 0 || --searchBudget < 0) break;
        const s = work[q].replicas.indexOf(w);
        if (q === p || s < 0) continue;
        const v = pickReceiver(q, s);
        if (v >= 0) {
          place(q, s, v);
          place(p, slot, w);
          return true;
        }
      }
    }
    return false;
  }

  // 5. Raising may have left a broker above hi that had no receiver earlier; shed once more.
  shedAll();
  return outcome();

  /** Sheds every broker's surplus above hi, to brokers below lo first (followers first). */
  function shedAll(): void {
    // Brokers below lo are served first; sending a surplus replica to a broker that is merely below hi while
    // another still needs one would cost a move later.
    for (let u = 0; u < n; u++) {
      for (let pass = 0; pass < 4 && count[u] > hi[u]; pass++) {
        for (const p of hosted(u)) {
          if (count[u] <= hi[u]) break;
          const s = work[p].replicas.indexOf(u);
          if (s < 0 || (pass % 2 === 0) !== (s > 0) !== leadersFirst(u)) continue;
          const v = pickReceiver(p, s, pass < 2);
          if (v >= 0) place(p, s, v);
        }
      }
      while (count[u] > hi[u]) {
        const p = hosted(u).find((q) => work[q].replicas.includes(u) && chain(q, work[q].replicas.indexOf(u)));
        if (p === undefined) break;
      }
    }
  }

  /**
   * Brings one replica to v through a third broker w when no donor can hand one over directly: some donor u
   * moves a replica to w and w moves one of its replicas to v (two moves, w unchanged).
   */
  function chainInto(v: number): boolean {
    let budget = Math.min(100_000, searchBudget);
    for (let u = 0; u < n; u++) {
      if (u === v || count[u] <= lo[u]) continue;
      for (const p of hosted(u)) {
        const s = work[p].replicas.indexOf(u);
        if (s < 0) continue;
        for (let w = 0; w < n; w++) {
          if (--budget < 0 || --searchBudget < 0) return false;
          if (w === u || w === v) continue;
          if (!fits(c, work[p].replicas, s, w)) continue;
          for (const q of hosted(w)) {
            const sw = work[q].replicas.indexOf(w);
            if (q === p || sw < 0 || !fits(c, work[q].replicas, sw, v)) continue;
            place(q, sw, v);
            place(p, s, w);
            return true;
          }
        }
      }
    }
    return false;
  }

  /** No balanced home: the least loaded broker allowed by the rules (or, failing those, by distinctness). */
  function lastResort(p: number, slot: number): number {
    const reps = work[p].replicas;
    let best = -1, bestRelaxed = -1;
    for (let b = 0; b < n; b++) {
      if (count[b] >= c.maxPerBroker || reps.includes(b)) continue;
      const better = (cur: number) => cur < 0 || count[b] - hi[b] < count[cur] - hi[cur];
      if (fits(c, reps, slot, b) && better(best)) best = b;
      if (better(bestRelaxed)) bestRelaxed = b;
    }
    const chosen = best >= 0 ? best : bestRelaxed;
    if (chosen < 0) {
      throw new StreamBusError(
        "Invalid",
        `no eligible broker can take a replica of ${work[p].topic}/${work[p].partitionId} within maxPartitionsPerBroker ${c.maxPerBroker}`,
      );
    }
    return chosen;
  }
}
