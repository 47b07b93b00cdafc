/**
 * Fast failover: the transport saw the link to our leader drop (a killed process's sockets close at once).
 * Forget the leader and campaign through PreVote after a short random delay, instead of waiting out an
 * election timeout in [T, 2T). Safe: a voter still hearing from a live leader refuses the pre-vote, and a
 * heartbeat from a live leader restores the lead. Retried a few times (a split vote, a peer that had not
 * noticed yet) while no leader is known; the normal election timeout stays the backstop.
 */
import type { Logger } from "../logger.ts";
import type { Clock } from "../ports/clock.ts";
import type { Random } from "../rng.ts";
import type { NodeId, Role } from "./types.ts";

export interface FastFailoverHost {
  clock: Pick<Clock, "setTimeout" | "clearTimeout">;
  random: Random;
  logger: Logger;
  heartbeatInterval: number;
  /** The core's view now, or undefined when the node is not running. */
  view(): { role: Role; lead: NodeId } | undefined;
  forgetLeader(): void;
  campaign(): void;
}

const RETRIES = 3;

export class FastFailover {
  private timer: unknown;

  constructor(private readonly host: FastFailoverHost) {}

  /** The link to node `id` closed: if it is our leader, forget it and campaign soon. */
  linkDown(id: NodeId): void {
    const v = this.host.view();
    if (!v || v.role !== "follower" || v.lead !== id) return;
    this.host.logger.info("raft.leader_link_down", { leader: id });
    this.host.forgetLeader();
    this.cancel();
    this.campaign(0);
  }

  cancel(): void {
    this.host.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private campaign(attempt: number): void {
    const hb = this.host.heartbeatInterval;
    // Spread over two heartbeats so the two followers of a 3-node cluster rarely split the vote.
    const delay = Math.round(hb / 4 + this.host.random.next() * 2 * hb);
    this.timer = this.host.clock.setTimeout(() => {
      this.timer = undefined;
      const v = this.host.view();
      if (!v || v.lead !== 0 || v.role === "leader") return;
      this.host.campaign();
      if (attempt < RETRIES) this.campaign(attempt + 1);
    }, delay);
  }
}
