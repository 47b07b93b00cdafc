/**
 * A binary min-heap of (key, tie, value) triples ordered by key, then tie. The strategies push a fresh entry
 * whenever a broker's count changes and skip stale entries on pop (`isCurrent`), which is simpler and faster
 * than decrease-key for the few updates a placement makes.
 */
export class MinHeap {
  #key: number[] = [];
  #tie: number[] = [];
  #val: number[] = [];

  get size(): number {
    return this.#key.length;
  }

  push(key: number, tie: number, value: number): void {
    const k = this.#key, t = this.#tie, v = this.#val;
    let i = k.length;
    k.push(key), t.push(tie), v.push(value);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (k[p] < key || (k[p] === key && t[p] <= tie)) break;
      k[i] = k[p], t[i] = t[p], v[i] = v[p];
      i = p;
    }
    k[i] = key, t[i] = tie, v[i] = value;
  }

  /** Key of the smallest entry (undefined when empty). */
  peekKey(): number | undefined {
    return this.#key[0];
  }

  /** Removes the smallest entry and returns its value and key. */
  pop(): { value: number; key: number } | undefined {
    const k = this.#key, t = this.#tie, v = this.#val;
    if (k.length === 0) return undefined;
    const top = { value: v[0], key: k[0] };
    const lk = k.pop()!, lt = t.pop()!, lv = v.pop()!;
    const n = k.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (k[c + 1] < k[c] || (k[c + 1] === k[c] && t[c + 1] < t[c]))) c++;
        if (lk < k[c] || (lk === k[c] && lt <= t[c])) break;
        k[i] = k[c], t[i] = t[c], v[i] = v[c];
        i = c;
      }
      k[i] = lk, t[i] = lt, v[i] = lv;
    }
    return top;
  }
}
