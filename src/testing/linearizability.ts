/**
 * A linearizability checker: the Wing–Gong search with Lowe's memoization, as Porcupine does it.
 *
 * A history is a list of operations with a call time, a return time and an output. An operation whose
 * outcome is unknown (a timeout) has `return: Infinity` and `output: undefined`: it may have taken
 * effect at any point after its call, or never (linearizing it after everything else is the same as
 * "never" for a register). The history is split into independent partitions (per key for a key-value
 * store) and each is searched on its own; the search caches (set of linearized ops, model state) pairs,
 * so a state reached twice is explored once.
 *
 * @example
 * const r = checkLinearizability(kvModel, [
 *   { input: { op: "put", key: "x", value: "1" }, output: {}, call: 0, return: 10 },
 *   { input: { op: "get", key: "x" }, output: { value: null }, call: 20, return: 30 }, // stale read
 * ]);
 * r.ok; // false, r.failures[0].offending names the get
 */

/** One client operation as observed from outside. */
export interface Operation<I, O> {
  input: I;
  /** undefined when the outcome is unknown (then `return` is Infinity). */
  output: O | undefined;
  call: number;
  /** Infinity when the client never learned the outcome. */
  return: number;
  /** Free-form tags for reports (client id, op id). */
  clientId?: number;
  id?: number;
}

/** A sequential specification. `step` must be deterministic and must not mutate `state`. */
export interface Model<S, I, O> {
  init(): S;
  /** Applies `input` to `state`; ok is false when `output` is impossible there. `output` undefined: accept any. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** A hash of the state. Equal states must hash the same; without `equal`, equal hashes mean equal states. */
  hash(state: S): string;
  equal?(a: S, b: S): boolean;
  /** Splits the history into independent sub-histories (e.g. per key); default: one partition. */
  partition?(ops: Operation<I, O>[]): { name: string; ops: Operation<I, O>[] }[];
  /** Read-only inputs with an unknown outcome constrain nothing and are dropped before the search. */
  readOnly?(input: I): boolean;
  describe?(op: Operation<I, O>): string;
}

export interface PartitionFailure<I, O> {
  partition: string;
  /** The longest order found in which a prefix of the history is legal. */
  linearized: Operation<I, O>[];
  /** The operations that could not be placed after that prefix (the earliest-returning one and those concurrent with it). */
  offending: Operation<I, O>[];
  /** A readable account of the above. */
  description: string;
}

export interface CheckResult<I, O> {
  ok: boolean;
  /** True when the step budget ran out before an answer (ok is then true only for the finished partitions). */
  timedOut: boolean;
  failures: PartitionFailure<I, O>[];
  /** Search steps taken, summed over partitions. */
  steps: number;
}

export interface CheckOptions {
  /** Search steps per partition before giving up (default 5,000,000). */
  maxSteps?: number;
}

interface Node {
  call: boolean;
  id: number;
  match: Node | undefined; // a call's return node
  prev: Node | undefined;
  next: Node | undefined;
}

/** Checks a whole history; see the module comment. */
export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  history: Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  const ops = history.filter((op) => !(op.output === undefined && model.readOnly?.(op.input)));
  const parts = model.partition ? model.partition(ops) : [{ name: "all", ops }];
  const result: CheckResult<I, O> = { ok: true, timedOut: false, failures: [], steps: 0 };
  for (const part of parts) {
    const r = checkPartition(model, part.ops, options.maxSteps ?? 5_000_000);
    result.steps += r.steps;
    if (r.timedOut) result.timedOut = true;
    if (!r.ok) {
      result.ok = false;
      result.failures.push(describeFailure(model, part.name, part.ops, r.longest));
    }
  }
  return result;
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  maxSteps: number,
): { ok: boolean; timedOut: boolean; steps: number; longest: number[] } {
  const n = ops.length;
  if (n === 0) return { ok: true, timedOut: false, steps: 0, longest: [] };
  const head = buildList(ops);
  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  // Zobrist hashing keeps the cache key O(1) to update; buckets compare the full bitset on a hit.
  const zob = seededZobrist(n);
  let zh = 0;
  const cache = new Map<string, { bits: Uint32Array; state: S }[]>();
  const equal = model.equal ?? (() => true);
  const stack: { node: Node; state: S; zh: number }[] = [];
  let state = model.init();
  let longest: number[] = [];
  let steps = 0;
  let node = head.next;
  while (head.next !== undefined) {
    if (++steps > maxSteps) return { ok: true, timedOut: true, steps, longest };
    const cur = node!;
    if (cur.call) {
      const op = ops[cur.id]!;
      const r = model.step(state, op.input, op.output);
      if (r.ok) {
        const w = cur.id >>> 5, b = 1 << (cur.id & 31);
        bits[w]! |= b;
        const nzh = (zh ^ zob[cur.id]!) >>> 0;
        const key = nzh + ":" + model.hash(r.state);
        let bucket = cache.get(key);
        const seen = bucket?.some((e) => equal(e.state, r.state) && sameBits(e.bits, bits)) ?? false;
        if (!seen) {
          if (!bucket) cache.set(key, (bucket = []));
          bucket.push({ bits: bits.slice(), state: r.state });
          stack.push({ node: cur, state, zh });
          state = r.state;
          zh = nzh;
          lift(cur);
          if (stack.length > longest.length) longest = stack.map((e) => e.node.id);
          node = head.next;
          continue;
        }
        bits[w]! &= ~b;
      }
      node = cur.next;
    } else {
      // A return: its call was not linearized before it, so this branch is dead. Backtrack.
      const top = stack.pop();
      if (!top) return { ok: false, timedOut: false, steps, longest };
      bits[top.node.id >>> 5]! &= ~(1 << (top.node.id & 31));
      state = top.state;
      zh = top.zh;
      unlift(top.node);
      node = top.node.next;
    }
  }
  return { ok: true, timedOut: false, steps, longest: stack.map((e) => e.node.id) };
}

function buildList<I, O>(ops: Operation<I, O>[]): Node {
  const events: Node[] = [];
  ops.forEach((op, id) => {
    const ret: Node = { call: false, id, match: undefined, prev: undefined, next: undefined };
    const call: Node = { call: true, id, match: ret, prev: undefined, next: undefined };
    events.push(call, ret);
  });
  const time = (e: Node) => (e.call ? ops[e.id]!.call : ops[e.id]!.return);
  // Calls sort before returns at the same instant: operations that touch are treated as concurrent.
  events.sort((a, b) => time(a) - time(b) || (a.call === b.call ? a.id - b.id : a.call ? -1 : 1));
  const head: Node = { call: false, id: -1, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  return head;
}

function lift(call: Node): void {
  call.prev!.next = call.next;
  call.next!.prev = call.prev; // a call always has its return after it
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Node): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function seededZobrist(n: number): Uint32Array {
  const out = new Uint32Array(n);
  let s = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    out[i] = (z ^ (z >>> 14)) >>> 0;
  }
  return out;
}

function describeFailure<S, I, O>(
  model: Model<S, I, O>,
  name: string,
  ops: Operation<I, O>[],
  longest: number[],
): PartitionFailure<I, O> {
  const placed = new Set(longest);
  const rest = ops.map((op, i) => ({ op, i })).filter((e) => !placed.has(e.i));
  const firstReturn = Math.min(...rest.map((e) => e.op.return));
  const offending = rest.filter((e) => e.op.call <= firstReturn).sort((a, b) => a.op.call - b.op.call).map((e) => e.op);
  const show = (op: Operation<I, O>) =>
    model.describe?.(op) ??
      `${JSON.stringify(op.input)} -> ${op.output === undefined ? "?" : JSON.stringify(op.output)} [${op.call}, ${op.return}]`;
  const linearized = longest.map((i) => ops[i]!);
  const description = [
    `partition ${name}: not linearizable (${ops.length} ops).`,
    `longest legal prefix (${linearized.length} ops, last 10 shown):`,
    ...linearized.slice(-10).map((op) => "  " + show(op)),
    "cannot be placed next:",
    ...offending.slice(0, 10).map((op) => "  " + show(op)),
  ].join("\n");
  return { partition: name, linearized, offending, description };
}

// ---------------------------------------------------------------------------------------------------
// The key-value register model used by the simulator and the fault suite.

export type KvInput =
  | { op: "get"; key: string }
  | { op: "put"; key: string; value: string }
  | { op: "cas"; key: string; expected: string | null; value: string };

/** get: the value read (null = absent); put: nothing; cas: whether it swapped. */
export type KvOutput = { value?: string | null; ok?: boolean };

/** Per-key register state (the history is partitioned per key): the current value, or null. */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case "get":
        return { ok: output === undefined || (output.value ?? null) === state, state };
      case "put":
        return { ok: true, state: input.value };
      case "cas": {
        const swapped = state === input.expected;
        const ok = output === undefined || output.ok === swapped;
        return { ok, state: swapped ? input.value : state };
      }
    }
  },
  hash: (state) => (state === null ? "\u0000" : "=" + state),
  partition(ops) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of ops) {
      let list = byKey.get(op.input.key);
      if (!list) byKey.set(op.input.key, (list = []));
      list.push(op);
    }
    return [...byKey.keys()].sort().map((name) => ({ name, ops: byKey.get(name)! }));
  },
  readOnly: (input) => input.op === "get",
  describe(op) {
    const i = op.input;
    const what = i.op === "get" ? `get(${i.key})` : i.op === "put" ? `put(${i.key}, ${i.value})`
      : `cas(${i.key}, ${i.expected}, ${i.value})`;
    const out = op.output === undefined ? "?" : i.op === "get" ? String(op.output.value ?? null)
      : i.op === "cas" ? String(op.output.ok) : "ok";
    const who = op.clientId === undefined ? "" : `client ${op.clientId} `;
    return `${who}${what} -> ${out}  [${op.call}, ${op.return === Infinity ? "∞" : op.return}]`;
  },
};
