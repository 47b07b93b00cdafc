/** Shared test helpers for the metadata suites: a driver for one FSM, and a mock consensus node. */
import { StreamBusError } from "../../src/errors.ts";
import { MetadataFSM } from "../../src/metadata/metadata-fsm.ts";
import type { ConsensusNode } from "../../src/metadata/consensus-node.ts";
import { decodeCommand, encodeCommand } from "../../src/metadata/operation-codec.ts";
import type { ApplyResult, Command, MetadataEvent, Operation } from "../../src/metadata/types.ts";

/**
 * Where `a` and `b` first differ, or undefined when they are the same in every way apply() could observe:
 * primitives by Object.is (so -0 is not 0), plain objects by their keys in order, arrays element by element.
 */
export function firstDifference(a: unknown, b: unknown, path = "$"): string | undefined {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
    return Object.is(a, b) ? undefined : `${path}: ${String(a)} vs ${String(b)}`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.join("\u0000") !== kb.join("\u0000")) return `${path}: keys ${ka.join(",")} vs ${kb.join(",")}`;
  for (const k of ka) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return undefined;
}

/** Feeds commands to one FSM with increasing indexes, as Raft would. */
export class FsmDriver {
  index = 0;
  seq = 0;
  readonly events: MetadataEvent[] = [];
  constructor(readonly fsm = new MetadataFSM(), readonly clientId = "test-client") {
    fsm.subscribe((e) => this.events.push(e));
  }
  run(op: Operation, extra: Partial<Command> = {}): ApplyResult {
    return this.raw(encodeCommand({ clientId: this.clientId, seq: ++this.seq, op, ...extra }));
  }
  raw(data: Uint8Array): ApplyResult {
    return this.fsm.apply(data, ++this.index);
  }
  /** Runs and expects success; returns the value. */
  ok(op: Operation, extra: Partial<Command> = {}): any {
    const r = this.run(op, extra);
    if (!r.ok) throw new Error(`${op.type} unexpectedly rejected: ${r.error.code} ${r.error.message}`);
    return r.value;
  }
}

export const broker = (id: number, extra: Record<string, unknown> = {}) =>
  ({ id, host: "localhost", port: 9090 + id, ...extra });

export const reg = (id: number, at = 1000, extra: Record<string, unknown> = {}): Operation =>
  ({ type: "registerBroker", broker: broker(id, extra) as never, at });

/**
 * A consensus node without Raft: `propose` applies to every FSM of the "cluster" in order (leader first), as
 * committed entries would. Failure modes are scripted per call.
 */
export type ProposeFault = "noLeader" | "notLeader" | "commitThenTimeout" | "timeout" | "unavailable";

export class MockConsensus implements ConsensusNode {
  readonly id: number;
  index = 0;
  leader: number | undefined;
  readonly faults: ProposeFault[] = [];
  readonly log: Uint8Array[] = [];
  barriers = 0;
  readonly #leaderListeners = new Set<(id: number | undefined) => void>();
  readonly #handlers = new Map<string, (body: unknown) => Promise<unknown>>();

  constructor(readonly fsms: MetadataFSM[], nodeId = 1, leader: number | undefined = 1) {
    this.id = nodeId;
    this.leader = leader;
  }

  async propose(data: Uint8Array, opts?: { decoded?: unknown }): Promise<{ index: number; result: unknown }> {
    const fault = this.faults.shift();
    if (fault === "noLeader" || this.leader === undefined) throw new StreamBusError("NoLeader", "no leader (mock)");
    if (fault === "notLeader") throw new StreamBusError("NotLeader", "not leader (mock)", { leaderId: this.leader });
    if (fault === "unavailable") throw new StreamBusError("Unavailable", "transfer in progress (mock)");
    if (fault === "timeout") throw new StreamBusError("Timeout", "lost before commit (mock)");
    this.log.push(data);
    const index = ++this.index;
    // As on RaftNode: the proposer's own FSM (the first) may take the decoded command; the others decode the
    // bytes. The two must be the same command, or the nodes would diverge.
    const decoded = opts?.decoded;
    if (decoded !== undefined) {
      const d = firstDifference(decoded, decodeCommand(data));
      if (d) throw new Error(`propose: decoded differs from what the bytes decode to at ${d}`);
    }
    const results = this.fsms.map((f, i) => f.apply(data, index, true, i === 0 ? decoded : undefined));
    if (fault === "commitThenTimeout") throw new StreamBusError("Timeout", "committed but the answer was lost (mock)");
    return { index, result: results[0] };
  }
  async readBarrier(): Promise<void> {
    if (this.leader === undefined) throw new StreamBusError("NoLeader", "no leader (mock)");
    this.barriers++;
  }
  isLeader() {
    return this.leader === this.id;
  }
  leaderId() {
    return this.leader;
  }
  setLeader(id: number | undefined) {
    this.leader = id;
    for (const l of [...this.#leaderListeners]) l(id);
  }
  onLeaderChange(listener: (id: number | undefined) => void) {
    this.#leaderListeners.add(listener);
    return () => void this.#leaderListeners.delete(listener);
  }
  async callLeader(method: string, body: unknown) {
    const h = this.#handlers.get(method);
    if (!h) throw new StreamBusError("NotFound", `no handler ${method}`);
    return h(body);
  }
  handle(method: string, handler: (body: unknown) => Promise<unknown>) {
    this.#handlers.set(method, handler);
  }
}
