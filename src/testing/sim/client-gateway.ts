/**
 * How simulated clients reach the cluster: proposals that complete when applied on the node they were
 * sent to (as RaftNode.propose does), and ReadIndex reads served once that node applied the read index.
 * Acknowledging a write checks that its entry is durable on a majority of the voters.
 */
import { isStreamBusError } from "../../errors.ts";
import type { Entry, NodeId } from "../../raft/types.ts";
import { violation } from "./invariants.ts";
import { decodeCommand, type KvResult } from "./kv-state-machine.ts";
import type { SimCluster } from "./sim-cluster.ts";
import type { SimNode } from "./sim-node.ts";

/** Result of a proposal made on behalf of a client. */
export type ProposeOutcome =
  | { ok: true; index: number; term: number; result: KvResult | undefined }
  | { ok: false; error: unknown };

export type ReadOutcome = { ok: true; value: string | null } | { ok: false; error: unknown };

interface Waiter {
  node: NodeId;
  incarnation: number;
  done: (o: ProposeOutcome) => void;
}

export class ClientGateway {
  private waiters = new Map<string, Waiter>();
  private readSeq = 0;

  constructor(private cluster: SimCluster) {}

  /** Proposes a command on a node; `done` runs once it is applied there, or on a definite failure. */
  propose(id: NodeId, data: Uint8Array, done: (o: ProposeOutcome) => void): void {
    const node = this.cluster.node(id);
    if (!node.up) return done({ ok: false, error: new Error("node down") });
    const cmd = decodeCommand(data);
    const key = cmd ? `${cmd.c}:${cmd.s}` : undefined;
    if (key) this.waiters.set(key, { node: id, incarnation: node.incarnation, done });
    this.cluster.input(node, () => {
      try {
        node.raw!.propose(data);
      } catch (e) {
        if (key) this.waiters.delete(key);
        if (isStreamBusError(e, "NoLeader", "Unavailable", "NotLeader", "TooLarge")) return done({ ok: false, error: e });
        throw e;
      }
    });
  }

  /** Forgets a client's waiter (after its timeout). */
  forget(client: number, seq: number): void {
    this.waiters.delete(`${client}:${seq}`);
  }

  /** Called for every applied entry: completes the waiting client whose command it is, on this node. */
  onApplied(node: SimNode, e: Entry, result: KvResult | undefined): void {
    if (e.type !== "normal" || !e.data.length || this.waiters.size === 0) return;
    const cmd = decodeCommand(e.data);
    if (!cmd) return;
    const key = `${cmd.c}:${cmd.s}`;
    const w = this.waiters.get(key);
    if (!w || w.node !== node.id || w.incarnation !== node.incarnation) return;
    this.waiters.delete(key);
    this.checkDurableOnMajority(node, e);
    w.done({ ok: true, index: e.index, term: e.term, result });
  }

  /** Nothing is acknowledged before it is durable on a majority of the voters. */
  private checkDurableOnMajority(node: SimNode, e: Entry): void {
    // The majority that counts is the committing leader's configuration (membership changes take
    // effect when applied, so it can differ from the acknowledging node's by one change).
    const conf = this.cluster.ledger.commitConf[e.index] ?? node.raw!.status().conf;
    for (const voters of [conf.voters, conf.votersOutgoing]) {
      if (!voters.length) continue;
      const durable = voters.filter((v) => this.cluster.nodes.get(v)?.disk.hasDurable(e.index, e.term)).length;
      if (durable * 2 <= voters.length) {
        violation("durable-ack", `node ${node.id} acknowledged entry ${e.index}@${e.term} durable on only ${durable} of the committing voters [${voters}]`);
      }
    }
  }

  /** A linearizable read on a node: ReadIndex, then wait until applied. `done` gets the value or an error. */
  read(id: NodeId, key: string, done: (o: ReadOutcome) => void): string | undefined {
    const node = this.cluster.node(id);
    if (!node.up) {
      done({ ok: false, error: new Error("node down") });
      return undefined;
    }
    const context = `read-${++this.readSeq}`;
    const incarnation = node.incarnation;
    if (this.cluster.options.unsafeLocalReads) {
      done({ ok: true, value: node.kv.get(key) });
      return context;
    }
    node.reads.set(context, {
      context,
      done: (r) => (r.ok ? done({ ok: true, value: node.kv.get(key) }) : done(r)),
    });
    this.cluster.input(node, () => {
      try {
        node.raw!.readIndex(new TextEncoder().encode(context));
      } catch (e) {
        if (node.incarnation !== incarnation) return;
        node.reads.delete(context);
        if (isStreamBusError(e, "NoLeader", "Unavailable", "NotLeader")) return done({ ok: false, error: e });
        throw e;
      }
    });
    return context;
  }

  /** Abandons a read (timeout). */
  forgetRead(id: NodeId, context?: string): void {
    if (context) this.cluster.node(id).reads.delete(context);
  }
}
