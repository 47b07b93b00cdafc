/**
 * Membership changes as a pure function over ConfState (etcd-raft `confchange/`). One change is a
 * single-server change (the voter sets differ by at most one node); several changes, or `joint: true`,
 * enter joint consensus (C_old,new), which is left by an empty `leaveJoint` change (proposed automatically
 * when `autoLeave`).
 */
import { StreamBusError } from "../errors.ts";
import type { ConfChange, ConfState, NodeId } from "./types.ts";

/** A configuration with the given voters and nothing else. */
export function confStateOf(voters: readonly NodeId[]): ConfState {
  return { voters: [...voters].sort((a, b) => a - b), learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function isJoint(cs: ConfState): boolean {
  return cs.votersOutgoing.length > 0;
}

/** Every node of the configuration (voters of both halves and learners), sorted. */
export function allMembers(cs: ConfState): NodeId[] {
  const s = new Set<NodeId>([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext]);
  return [...s].sort((a, b) => a - b);
}

export function cloneConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}

const add = (xs: NodeId[], id: NodeId) => (xs.includes(id) ? xs : [...xs, id]);
const remove = (xs: NodeId[], id: NodeId) => xs.filter((x) => x !== id);
const sorted = (xs: NodeId[]) => [...xs].sort((a, b) => a - b);

/**
 * The configuration after `cc`. Throws StreamBusError "Invalid" for a change that breaks a rule (no voters
 * left, a single-server change touching two voters, leaving a joint configuration that is not joint) and
 * "Conflict" for a change proposed while a joint configuration is still in place.
 *
 * @example
 * applyConfChange(confStateOf([1, 2, 3]), { changes: [{ type: "addLearner", nodeId: 4 }] }).learners; // [4]
 */
export function applyConfChange(cs: ConfState, cc: ConfChange): ConfState {
  const changes = cc.changes ?? [];
  if (cc.leaveJoint || (changes.length === 0 && isJoint(cs))) {
    if (!isJoint(cs)) throw new StreamBusError("Invalid", "raft: leaveJoint requested but the configuration is not joint");
    if (changes.length > 0) throw new StreamBusError("Invalid", "raft: leaveJoint takes no changes");
    let learners = [...cs.learners];
    for (const id of cs.learnersNext) learners = add(learners, id);
    return { voters: sorted(cs.voters), learners: sorted(learners), votersOutgoing: [], learnersNext: [], autoLeave: false };
  }
  // An empty configuration is being bootstrapped (the first entry of a new cluster lists every initial
  // voter): no joint phase, no one-at-a-time rule.
  const bootstrap = cs.voters.length === 0 && cs.learners.length === 0 && !isJoint(cs);
  if (isJoint(cs)) {
    throw new StreamBusError("Conflict", "raft: a joint configuration is in place; leave it (leaveJoint) before another change");
  }
  if (changes.length === 0) throw new StreamBusError("Invalid", "raft: a configuration change needs at least one change");
  const joint = !bootstrap && (cc.joint === true || changes.length > 1);
  const outgoing = joint ? [...cs.voters] : [];
  let voters = [...cs.voters], learners = [...cs.learners], learnersNext: NodeId[] = [];
  for (const ch of changes) {
    const id = ch.nodeId;
    if (!Number.isSafeInteger(id) || id < 1) throw new StreamBusError("Invalid", `raft: node id must be a positive integer (got ${String(id)})`);
    switch (ch.type) {
      case "addVoter":
        learners = remove(learners, id);
        learnersNext = remove(learnersNext, id);
        voters = add(voters, id);
        break;
      case "addLearner":
        voters = remove(voters, id);
        // A voter of the outgoing half cannot also be a learner: it becomes one when the joint config is left.
        if (outgoing.includes(id)) learnersNext = add(learnersNext, id);
        else learners = add(learners, id);
        break;
      case "removeNode":
        voters = remove(voters, id);
        learners = remove(learners, id);
        learnersNext = remove(learnersNext, id);
        break;
      default:
        throw new StreamBusError("Invalid", `raft: unknown configuration change type ${String((ch as { type: unknown }).type)}`);
    }
  }
  if (voters.length === 0) throw new StreamBusError("Invalid", "raft: the change would leave no voters");
  if (!joint && !bootstrap) {
    let diff = 0;
    for (const id of voters) if (!cs.voters.includes(id)) diff++;
    for (const id of cs.voters) if (!voters.includes(id)) diff++;
    if (diff > 1) throw new StreamBusError("Invalid", "raft: a single-server change may add or remove one voter only; use joint consensus");
  }
  return {
    voters: sorted(voters),
    learners: sorted(learners),
    votersOutgoing: sorted(outgoing),
    learnersNext: sorted(learnersNext),
    autoLeave: joint ? cc.autoLeave !== false : false,
  };
}
