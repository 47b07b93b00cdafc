/**
 * Simulated clients running a key-value register workload against a SimCluster: puts and
 * compare-and-sets through the log, gets through ReadIndex. Each client has one operation in flight;
 * an operation that times out has an unknown outcome (return Infinity in the history).
 */
import type { Random } from "../../rng.ts";
import type { NodeId } from "../../raft/types.ts";
import type { KvInput, KvOutput, Operation } from "../linearizability.ts";
import { encodeCommand, type KvCommand } from "./kv-state-machine.ts";
import type { SimCluster } from "./sim-cluster.ts";

export interface WorkloadOptions {
  clients: number;
  keys: number;
  /** Simulated ms before an operation is given up as unknown. */
  opTimeout: number;
  /** Pause between a client's operations, ms (upper bound). */
  thinkTime: number;
  /** Fractions of reads and CAS; the rest are puts. */
  readRate: number;
  casRate: number;
}

export const defaultWorkload: WorkloadOptions = {
  clients: 4, keys: 3, opTimeout: 500, thinkTime: 40, readRate: 0.4, casRate: 0.15,
};

export class KvWorkload {
  readonly history: Operation<KvInput, KvOutput>[] = [];
  /** Operations that completed with a known outcome, timed out, or failed before taking effect. */
  completed = 0;
  unknown = 0;
  failed = 0;
  private stopAt = 0;
  private leaderHint: NodeId | undefined;
  readonly options: WorkloadOptions;

  constructor(private cluster: SimCluster, private random: Random, options: Partial<WorkloadOptions> = {}) {
    this.options = { ...defaultWorkload, ...options };
  }

  /** Starts every client; they stop issuing new operations at simulated time `until`. */
  start(until: number): void {
    this.stopAt = until;
    for (let c = 1; c <= this.options.clients; c++) {
      let seq = 0;
      const next = () => {
        if (this.cluster.now >= this.stopAt) return;
        this.issue(c, ++seq, () => this.cluster.queue.after(1 + this.random.int(this.options.thinkTime), next));
      };
      this.cluster.queue.after(this.random.int(this.options.thinkTime), next);
    }
  }

  private pickNode(): NodeId {
    const ids = this.cluster.ids();
    if (this.leaderHint !== undefined && this.random.chance(0.7)) return this.leaderHint;
    return ids[this.random.int(ids.length)]!;
  }

  private learnLeader(id: NodeId): void {
    const n = this.cluster.node(id);
    const lead = n.up ? n.raw!.status().lead : 0;
    this.leaderHint = lead ? lead : undefined;
  }

  private issue(client: number, seq: number, then: () => void): void {
    const o = this.options;
    const key = "k" + this.random.int(o.keys);
    const nodeId = this.pickNode();
    const call = this.cluster.now;
    let finished = false;
    const finish = () => {
      finished = true;
      this.learnLeader(nodeId);
      then();
    };
    const roll = this.random.next();
    if (roll < o.readRate) {
      const ctx = this.cluster.read(nodeId, key, (r) => {
        if (finished) return;
        if (r.ok) {
          this.history.push({ input: { op: "get", key }, output: { value: r.value }, call, return: this.cluster.now, clientId: client });
          this.completed++;
        } else this.failed++;
        finish();
      });
      if (!finished) {
        this.cluster.queue.after(o.opTimeout, () => {
          if (finished) return;
          this.cluster.forgetRead(nodeId, ctx);
          this.unknown++; // an unknown read constrains nothing: left out of the history
          finish();
        });
      }
      return;
    }
    const value = `c${client}.${seq}`;
    let cmd: KvCommand;
    let input: KvInput;
    if (roll < o.readRate + o.casRate) {
      const expected = this.random.chance(0.3) ? null : this.guessValue(key);
      cmd = { c: client, s: seq, op: "cas", k: key, e: expected, v: value };
      input = { op: "cas", key, expected, value };
    } else {
      cmd = { c: client, s: seq, op: "put", k: key, v: value };
      input = { op: "put", key, value };
    }
    const op: Operation<KvInput, KvOutput> = { input, output: undefined, call, return: Infinity, clientId: client, id: seq };
    this.cluster.propose(nodeId, encodeCommand(cmd), (r) => {
      if (finished) return;
      if (r.ok) {
        op.return = this.cluster.now;
        op.output = input.op === "cas" ? { ok: r.result?.ok ?? false } : {};
        this.history.push(op);
        this.completed++;
      } else this.failed++; // rejected before it was appended: it never takes effect
      finish();
    });
    if (!finished) {
      this.cluster.queue.after(o.opTimeout, () => {
        if (finished) return;
        this.cluster.forget(client, seq);
        this.history.push(op); // outcome unknown: may take effect at any later time, or never
        this.unknown++;
        finish();
      });
    }
  }

  /** A recently written value of `key`, so some CAS operations succeed. */
  private guessValue(key: string): string | null {
    for (let i = this.history.length - 1, seen = 0; i >= 0 && seen < 20; i--, seen++) {
      const h = this.history[i]!;
      if (h.input.key !== key) continue;
      if (h.input.op === "get" && h.output?.value) return h.output.value;
      if (h.input.op !== "get") return h.input.value;
    }
    return null;
  }
}
