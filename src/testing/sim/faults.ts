/**
 * Fault mixes and the injector that applies them to a SimCluster at random moments: partitions
 * (symmetric, asymmetric, partial, leader isolation), crashes and restarts, slow disks, process pauses,
 * leadership transfers, flaky links, membership changes, and stale leaders (isolated with a slow clock). All choices come from the seeded Random.
 */
import type { ConfChange, NodeId } from "../../raft/types.ts";
import type { Random } from "../../rng.ts";
import type { SimCluster } from "./sim-cluster.ts";
import { type NetworkOptions, reliableNetwork, unreliableNetwork } from "./sim-network.ts";

/** A fault mix: how often each kind of fault is injected (per fault tick). */
export interface FaultProfile {
  name: string;
  network: NetworkOptions;
  partitions: number;
  crashes: number;
  slowDisks: number;
  transfers: number;
  flakyNetwork: number;
  snapshotEvery: number;
  /** Membership changes: add learners, promote, remove voters, joint changes. */
  membership?: number;
  /** Blank nodes that may be added by membership changes. */
  spares?: number;
  /** Messages go through the CBOR codec. */
  wireCodec?: boolean;
  tickSkew?: number;
  /** Process pauses (a stalled leader that wakes up believing it still leads). */
  pauses?: number;
  /** Crash the current leader rather than a random node (the Figure 8 pattern). */
  leaderCrashes?: number;
  /**
   * Cut the current leader off from the other nodes (clients still reach it) with its clock running slow,
   * so it believes it leads well after the others elected a new leader and committed writes: a read it
   * serves without confirming leadership with a quorum then returns stale data.
   */
  staleLeaders?: number;
}

const quiet = { partitions: 0, crashes: 0, slowDisks: 0, transfers: 0, flakyNetwork: 0 };

export const PROFILES: FaultProfile[] = [
  { name: "calm", network: reliableNetwork, ...quiet, snapshotEvery: 0 },
  { name: "lossy", network: unreliableNetwork, ...quiet, snapshotEvery: 0 },
  { name: "partitions", network: reliableNetwork, ...quiet, partitions: 0.5, snapshotEvery: 0 },
  { name: "crashes", network: reliableNetwork, ...quiet, crashes: 0.4, snapshotEvery: 0 },
  { name: "slow-disks", network: reliableNetwork, ...quiet, slowDisks: 0.4, crashes: 0.1, snapshotEvery: 0 },
  { name: "snapshots", network: reliableNetwork, ...quiet, partitions: 0.3, crashes: 0.2, snapshotEvery: 8 },
  { name: "transfers", network: reliableNetwork, ...quiet, transfers: 0.4, partitions: 0.1, snapshotEvery: 0 },
  {
    name: "membership", network: reliableNetwork, ...quiet, partitions: 0.15, crashes: 0.1, membership: 0.5, spares: 3,
    snapshotEvery: 10,
  },
  { name: "pauses", network: reliableNetwork, ...quiet, pauses: 0.5, partitions: 0.1, snapshotEvery: 0 },
  { name: "leader-churn", network: reliableNetwork, ...quiet, leaderCrashes: 0.7, snapshotEvery: 0 },
  { name: "stale-leader", network: reliableNetwork, ...quiet, staleLeaders: 0.5, snapshotEvery: 0 },
  {
    name: "chaos", network: unreliableNetwork, partitions: 0.4, crashes: 0.3, slowDisks: 0.2, transfers: 0.1,
    flakyNetwork: 0.2, snapshotEvery: 12, membership: 0.1, spares: 2, wireCodec: true, tickSkew: 0.1, pauses: 0.1,
    leaderCrashes: 0.1,
  },
];

/** Injects the profile's faults at random moments, and can undo them all. */
export class FaultInjector {
  private crashed = new Set<NodeId>();
  private slowClocks = new Set<NodeId>();
  private removed = new Set<NodeId>();

  constructor(private cluster: SimCluster, private random: Random, private profile: FaultProfile) {}

  start(until: number): void {
    const loop = () => {
      if (this.cluster.now >= until) return;
      this.inject();
      this.cluster.queue.after(50 + this.random.int(250), loop);
    };
    this.cluster.queue.after(100 + this.random.int(200), loop);
  }

  private inject(): void {
    const p = this.profile, r = this.random, c = this.cluster;
    const ids = c.ids();
    const any = () => ids[r.int(ids.length)]!;
    if (r.chance(p.partitions)) {
      c.net.healAll();
      const kind = r.int(5);
      if (kind === 0) {
        // Symmetric split into two groups.
        const shuffled = shuffle(ids, r);
        const cut = 1 + r.int(ids.length - 1);
        c.net.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
      } else if (kind === 1) {
        // Asymmetric: one node can send but not receive (or the reverse).
        const a = any();
        for (const b of ids) if (b !== a) (r.chance(0.5) ? c.net.cutLink(b, a) : c.net.cutLink(a, b));
      } else if (kind === 2) {
        // Partial: a few links cut both ways (a node may still bridge the groups).
        for (let i = 0; i < 1 + r.int(ids.length); i++) {
          const a = any(), b = any();
          if (a !== b) {
            c.net.cutLink(a, b);
            c.net.cutLink(b, a);
          }
        }
      } else if (kind === 3) {
        // Isolate the current leader.
        const lead = c.leaders().sort((x, y) => y.term - x.term)[0];
        if (lead) c.net.isolate(lead.id, ids);
      }
      // kind 4: healed.
    }
    if (r.chance(p.crashes)) {
      const down = [...this.crashed];
      if (down.length && r.chance(0.6)) {
        const id = down[r.int(down.length)]!;
        this.crashed.delete(id);
        c.restart(id);
      } else {
        const id = any();
        if (!this.crashed.has(id)) {
          this.crashed.add(id);
          c.crash(id);
          // Usually come back soon; sometimes stay down until the heal.
          if (r.chance(0.7)) {
            c.queue.after(20 + r.int(400), () => {
              if (this.crashed.delete(id)) c.restart(id);
            });
          }
        }
      }
    }
    if (r.chance(p.slowDisks)) {
      const id = any();
      c.setSlowDisk(id, r.chance(0.5) ? 0 : 5 + r.int(80));
    }
    if (r.chance(p.transfers)) {
      const lead = c.leaders().sort((x, y) => y.term - x.term)[0];
      const to = any();
      if (lead && to !== lead.id) c.input(c.node(lead.id), () => c.node(lead.id).raw!.transferLeadership(to));
    }
    if (p.membership && r.chance(p.membership)) this.changeMembership();
    if (p.pauses && r.chance(p.pauses)) {
      // Usually the leader: a paused leader that wakes up is the classic stale-read setting.
      const lead = c.leaders().sort((x, y) => y.term - x.term)[0];
      const id = lead && r.chance(0.7) ? lead.id : any();
      c.pause(id);
      c.queue.after(50 + r.int(400), () => c.resume(id));
    }
    if (p.leaderCrashes && r.chance(p.leaderCrashes)) {
      const lead = c.leaders().sort((x, y) => y.term - x.term)[0];
      if (lead) {
        c.crash(lead.id);
        this.crashed.add(lead.id);
        c.queue.after(r.int(150), () => {
          if (this.crashed.delete(lead.id)) c.restart(lead.id);
        });
      }
    }
    if (p.staleLeaders && r.chance(p.staleLeaders)) {
      const lead = c.leaders().sort((x, y) => y.term - x.term)[0];
      if (lead && !this.slowClocks.size) {
        c.net.healAll();
        c.net.isolate(lead.id, ids);
        c.setClockSlowness(lead.id, 4 + r.int(8));
        this.slowClocks.add(lead.id);
        c.queue.after(200 + r.int(1500), () => {
          if (!this.slowClocks.delete(lead.id)) return;
          c.setClockSlowness(lead.id, 1);
          c.net.healAll();
        });
      }
    }
    if (r.chance(p.flakyNetwork)) {
      c.net.options = r.chance(0.5) ? { ...unreliableNetwork, dropRate: r.next() * 0.3 } : { ...reliableNetwork };
    }
  }

  /** Adds a learner, promotes one, removes a voter, or does a joint change, through the current leader. */
  private changeMembership(): void {
    const c = this.cluster, r = this.random;
    const lead = c.leaders().sort((x, y) => y.term - x.term)[0];
    if (!lead) return;
    const conf = c.node(lead.id).raw!.status().conf;
    if (conf.votersOutgoing.length) return;
    const members = new Set([...conf.voters, ...conf.learners]);
    // A removed id is never reused (its old disk would rejoin with stale state).
    const fresh = c.ids().filter((id) => !members.has(id) && !this.removed.has(id) && c.node(id).joining);
    const kind = r.int(4);
    const cc: ConfChange = { changes: [] };
    if (kind === 0 && fresh.length) {
      cc.changes.push({ type: "addLearner", nodeId: fresh[r.int(fresh.length)]! });
    } else if (kind === 1 && conf.learners.length) {
      cc.changes.push({ type: "addVoter", nodeId: conf.learners[r.int(conf.learners.length)]! });
    } else if (kind === 2 && conf.voters.length > 2) {
      const victim = conf.voters[r.int(conf.voters.length)]!;
      this.removed.add(victim);
      cc.changes.push({ type: "removeNode", nodeId: victim });
    } else if (kind === 3 && fresh.length && conf.voters.length > 2) {
      const victim = conf.voters[r.int(conf.voters.length)]!;
      this.removed.add(victim);
      cc.changes.push({ type: "addVoter", nodeId: fresh[r.int(fresh.length)]! }, { type: "removeNode", nodeId: victim });
    } else return;
    c.tryConfChange(lead.id, cc);
  }

  /** Heals the network, restarts crashed nodes and makes disks fast again. */
  healAll(): void {
    const c = this.cluster;
    c.net.healAll();
    c.net.options = { ...reliableNetwork };
    for (const id of this.slowClocks) c.setClockSlowness(id, 1);
    this.slowClocks.clear();
    for (const id of c.ids()) {
      c.setSlowDisk(id, 0);
      c.resume(id);
      if (!c.node(id).up) c.restart(id);
    }
    this.crashed.clear();
  }
}

function shuffle<T>(xs: T[], r: Random): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
