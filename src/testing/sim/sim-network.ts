/**
 * The simulated network: per-message delay, loss, duplication and reordering, and partitions as a set
 * of cut directed links (so symmetric, asymmetric and partial partitions are all one mechanism).
 */
import type { Random } from "../../rng.ts";
import type { NodeId } from "../../raft/types.ts";

export interface NetworkOptions {
  /** Base one-way delay range in ms. */
  minDelay: number;
  maxDelay: number;
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
  /** Probability a message is held back long (reordered behind later ones). */
  reorderRate: number;
  /** Extra delay (ms, upper bound) for a held-back message. */
  reorderDelay: number;
}

export const reliableNetwork: NetworkOptions = {
  minDelay: 1, maxDelay: 5, dropRate: 0, duplicateRate: 0, reorderRate: 0, reorderDelay: 0,
};

export const unreliableNetwork: NetworkOptions = {
  minDelay: 1, maxDelay: 20, dropRate: 0.1, duplicateRate: 0.05, reorderRate: 0.1, reorderDelay: 200,
};

export class SimNetwork {
  options: NetworkOptions;
  private cut = new Set<string>();
  /** Messages handed to the network, and delivered. */
  sent = 0;
  delivered = 0;

  constructor(private random: Random, options: NetworkOptions = reliableNetwork) {
    this.options = { ...options };
  }

  /** Delivery times (ms from now) for one message: empty when lost, two when duplicated. */
  plan(from: NodeId, to: NodeId): number[] {
    this.sent++;
    if (this.isCut(from, to)) return [];
    const o = this.options;
    if (o.dropRate > 0 && this.random.chance(o.dropRate)) return [];
    const one = () => {
      let d = o.minDelay + this.random.int(o.maxDelay - o.minDelay + 1);
      if (o.reorderRate > 0 && this.random.chance(o.reorderRate)) d += this.random.int(o.reorderDelay + 1);
      return d;
    };
    const out = [one()];
    if (o.duplicateRate > 0 && this.random.chance(o.duplicateRate)) out.push(one());
    return out;
  }

  /** Whether a message may arrive now (partitions are checked at send and at delivery). */
  canDeliver(from: NodeId, to: NodeId): boolean {
    return !this.isCut(from, to);
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.has(from + ">" + to);
  }

  /** Cuts the link from -> to (one direction). */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(from + ">" + to);
  }

  healLink(from: NodeId, to: NodeId): void {
    this.cut.delete(from + ">" + to);
  }

  /** Cuts every link between different groups, both ways. Nodes in no group keep their links. */
  partition(groups: NodeId[][]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.cutLink(a, b);
      }
    }
  }

  /** Cuts a node off in both directions from all `others`. */
  isolate(id: NodeId, others: NodeId[]): void {
    for (const o of others) {
      if (o === id) continue;
      this.cutLink(id, o);
      this.cutLink(o, id);
    }
  }

  /** Restores a node's links to all `others`. */
  rejoin(id: NodeId, others: NodeId[]): void {
    for (const o of others) {
      this.healLink(id, o);
      this.healLink(o, id);
    }
  }

  healAll(): void {
    this.cut.clear();
  }

  /** The cut links, for reports. */
  describeCuts(): string {
    return [...this.cut].sort().join(" ") || "none";
  }
}
