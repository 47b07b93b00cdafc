/**
 * A tiny message pump over several RawNodes for the Raft core tests: in-memory "storage" per node (what
 * Ready told it to persist), a drop filter, and an application state that records applied entries.
 */
import { isStreamBusError } from "../../src/errors.ts";
import { defaultConfig } from "../../src/raft/config.ts";
import { RawNode } from "../../src/raft/raw-node.ts";
import type { Entry, HardState, InitialState, Message, RaftConfig, ReadState, Snapshot } from "../../src/raft/types.ts";
import { seededRandom } from "../../src/rng.ts";

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** The StreamBusError code `f` throws, "not-a-StreamBusError" for any other throw, undefined if it returns. */
export function code(f: () => void): string | undefined {
  try {
    f();
  } catch (e) {
    return isStreamBusError(e) ? e.code : "not-a-StreamBusError";
  }
  return undefined;
}

export interface Disk {
  hardState: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
}

export function testConfig(id: number, ids: number[], over: Partial<RaftConfig> = {}): RaftConfig {
  return {
    ...defaultConfig(),
    nodeId: id,
    peers: ids.map((i) => ({ id: i, addr: `n${i}` })),
    electionTimeout: 1000,
    heartbeatInterval: 100,
    tickInterval: 100, // 10 election ticks, 1 heartbeat tick
    ...over,
  };
}

export class Cluster {
  readonly nodes = new Map<number, RawNode>();
  readonly disks = new Map<number, Disk>();
  /** Data of applied normal entries per node (no-ops skipped), after snapshot restores. */
  readonly applied = new Map<number, string[]>();
  readonly reads = new Map<number, ReadState[]>();
  readonly configs = new Map<number, RaftConfig>();
  /** Every message delivered (for counting). */
  delivered: Message[] = [];
  /** Return true to drop a message. */
  drop: (m: Message) => boolean = () => false;
  readonly down = new Set<number>();
  private seed: number;

  constructor(ids: number[], over: Partial<RaftConfig> = {}, seed = 1, members = ids) {
    this.seed = seed;
    for (const id of ids) this.add(id, testConfig(id, members, over));
  }

  add(id: number, config: RaftConfig, initial?: InitialState): RawNode {
    this.configs.set(id, config);
    const disk: Disk = this.disks.get(id) ??
      (initial
        ? { hardState: { ...initial.hardState }, entries: [...initial.entries], snapshot: initial.snapshot }
        : { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] });
    this.disks.set(id, disk);
    const init: InitialState = initial ?? { hardState: { ...disk.hardState }, entries: [...disk.entries], snapshot: disk.snapshot };
    const node = new RawNode({ config: config, initial: init, random: seededRandom(this.seed * 1000 + id) });
    this.nodes.set(id, node);
    if (!this.applied.has(id)) this.applied.set(id, []);
    if (!this.reads.has(id)) this.reads.set(id, []);
    return node;
  }

  /** Restarts a node from what it persisted (the applied state is rebuilt by replay). */
  restart(id: number): RawNode {
    const snap = this.disks.get(id)!.snapshot;
    this.applied.set(id, snap ? JSON.parse(dec(snap.data)) : []);
    return this.add(id, this.configs.get(id)!);
  }

  node(id: number): RawNode {
    return this.nodes.get(id)!;
  }

  leader(): number | undefined {
    let best: number | undefined, term = -1;
    for (const [id, n] of this.nodes) {
      if (this.down.has(id)) continue;
      const s = n.status();
      if (s.role === "leader" && s.term > term) {
        best = id;
        term = s.term;
      }
    }
    return best;
  }

  /** Processes every node's Ready once; returns the produced messages. */
  processReady(): Message[] {
    const out: Message[] = [];
    for (const [id, n] of [...this.nodes].sort((a, b) => a[0] - b[0])) {
      if (this.down.has(id) || !n.hasReady()) continue;
      const rd = n.ready();
      const disk = this.disks.get(id)!;
      if (rd.snapshot) {
        disk.snapshot = rd.snapshot;
        disk.entries = disk.entries.filter((e) => e.index > rd.snapshot!.meta.index);
        this.applied.set(id, JSON.parse(dec(rd.snapshot.data)));
      }
      if (rd.entries.length > 0) {
        const first = rd.entries[0].index;
        disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries);
      }
      if (rd.hardState) disk.hardState = { ...rd.hardState };
      out.push(...rd.messages);
      const app = this.applied.get(id)!;
      for (const e of rd.committedEntries) if (e.type === "normal" && e.data.length > 0) app.push(dec(e.data));
      this.reads.get(id)!.push(...rd.readStates);
      n.advance(rd);
    }
    return out;
  }

  deliver(msgs: Message[]): void {
    for (const m of msgs) {
      if (this.down.has(m.to) || this.down.has(m.from) || !this.nodes.has(m.to) || this.drop(m)) continue;
      this.delivered.push(m);
      this.nodes.get(m.to)!.step(m);
    }
  }

  /** Runs Ready/deliver rounds until quiet (or `maxRounds`). */
  pump(maxRounds = 10_000): void {
    for (let i = 0; i < maxRounds; i++) {
      const msgs = this.processReady();
      if (msgs.length === 0 && ![...this.nodes].some(([id, n]) => !this.down.has(id) && n.hasReady())) return;
      this.deliver(msgs);
    }
  }

  /** Ticks every live node `n` times, pumping after each tick. */
  tick(n = 1, only?: number[]): void {
    for (let i = 0; i < n; i++) {
      for (const [id, node] of this.nodes) if (!this.down.has(id) && (!only || only.includes(id))) node.tick();
      this.pump();
    }
  }

  /** Campaigns `id` and pumps; returns the leader afterwards. */
  elect(id: number): number | undefined {
    this.node(id).campaign();
    this.pump();
    return this.leader();
  }

  /** Proposes on `id` and pumps. */
  propose(id: number, ...data: string[]): void {
    for (const d of data) this.node(id).propose(enc(d));
    this.pump();
  }

  /** The application of `id` snapshots at its applied index; the storage keeps what the core returns. */
  snapshot(id: number): Snapshot {
    const n = this.node(id);
    const snap = n.createSnapshot(n.status().applied, enc(JSON.stringify(this.applied.get(id))));
    const disk = this.disks.get(id)!;
    disk.snapshot = snap;
    disk.entries = disk.entries.filter((e) => e.index > snap.meta.index);
    return snap;
  }

  /** Drops everything to and from `id` (a symmetric partition of one node). */
  isolate(id: number): void {
    const prev = this.drop;
    this.drop = (m) => m.to === id || m.from === id || prev(m);
  }

  heal(): void {
    this.drop = () => false;
  }
}
