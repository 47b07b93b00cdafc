/**
 * A deliberately plain reference model of the metadata rules (JSON objects, copy-on-write), written apart
 * from the FSM so the randomized test compares two independent readings of the same rules.
 */
import type { Operation } from "../../src/metadata/types.ts";

type Rec = Record<string, any>;
export interface ModelState {
  brokers: Record<number, Rec>;
  topics: Record<string, { name: string; config: Rec; createdAt: number; parts: Record<number, Rec> }>;
  version: number;
  assignmentVersion: number;
}

export const emptyModel = (): ModelState => ({ brokers: {}, topics: {}, version: 0, assignmentVersion: 0 });

const has = (xs: number[], x: number) => xs.includes(x);
const eq = (a: number[], b: number[]) => JSON.stringify(a) === JSON.stringify(b);

/** Applies `op`; returns the error code for a rejection (state unchanged) or null. */
export function modelApply(m: ModelState, op: Operation): string | null {
  const next: ModelState = structuredClone(m);
  const code = step(next, op);
  if (code.err) return code.err;
  next.version++;
  if (code.placements) next.assignmentVersion++;
  Object.assign(m, next);
  return null;
}

function step(m: ModelState, op: Operation): { err?: string; placements?: boolean } {
  const part = (t: string, p: number) => m.topics[t]?.parts[p];
  switch (op.type) {
    case "registerBroker": {
      const b = op.broker;
      for (const o of Object.values(m.brokers)) {
        if (o.id !== b.id && o.host === b.host && o.port === b.port && o.status !== "FAILED" && o.status !== "DECOMMISSIONED") return { err: "Conflict" };
      }
      const old = m.brokers[b.id];
      const status = b.status ?? (old?.status === "ALIVE" || old?.status === "DRAINING" ? old.status : "STARTING");
      const { status: _s, lastHeartbeat: _h, ...fields } = b;
      m.brokers[b.id] = {
        ...fields,
        status,
        epoch: (old?.epoch ?? 0) + 1,
        registeredAt: op.at,
        lastHeartbeat: b.lastHeartbeat ?? old?.lastHeartbeat ?? 0,
        statusChangedAt: old && old.status === status ? old.statusChangedAt : op.at,
      };
      return {};
    }
    case "unregisterBroker":
      if (!m.brokers[op.brokerId]) return { err: "NotFound" };
      delete m.brokers[op.brokerId];
      return {};
    case "updateBroker": {
      const b = m.brokers[op.brokerId];
      if (!b) return { err: "NotFound" };
      const host = op.patch.host ?? b.host, port = op.patch.port ?? b.port;
      if (host !== b.host || port !== b.port) {
        for (const o of Object.values(m.brokers)) {
          if (o.id !== b.id && o.host === host && o.port === port && o.status !== "FAILED" && o.status !== "DECOMMISSIONED") return { err: "Conflict" };
        }
      }
      for (const [k, v] of Object.entries(op.patch)) {
        if (v === null) delete b[k];
        else b[k] = v;
      }
      return {};
    }
    case "updateBrokerStatus": {
      const b = m.brokers[op.brokerId];
      if (!b) return { err: "NotFound" };
      if (op.status === "ALIVE") b.lastHeartbeat = Math.max(b.lastHeartbeat, op.at);
      if (b.status !== op.status) {
        b.status = op.status;
        b.statusChangedAt = op.at;
      }
      return {};
    }
    case "createTopic": {
      if (m.topics[op.name]) return { err: "Conflict" };
      const ids = op.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
      if (ids.some((id, i) => id !== i)) return { err: "Invalid" };
      if (op.partitions.some((p) => p.replicas.some((r) => !m.brokers[r]))) return { err: "Invalid" };
      const parts: Record<number, Rec> = {};
      for (const p of op.partitions) {
        parts[p.partitionId] = { replicas: p.replicas, leader: p.leader ?? p.replicas[0], isr: p.replicas, leaderEpoch: 0, partitionEpoch: 0 };
      }
      m.topics[op.name] = { name: op.name, config: op.config, createdAt: op.at, parts };
      return { placements: true };
    }
    case "deleteTopic":
      if (!m.topics[op.name]) return { err: "NotFound" };
      delete m.topics[op.name];
      return { placements: true };
    case "updateTopicConfig": {
      const t = m.topics[op.name];
      if (!t) return { err: "NotFound" };
      for (const [k, v] of Object.entries(op.config)) {
        if (v === null) delete t.config[k];
        else t.config[k] = v;
      }
      return {};
    }
    case "applyAssignment": {
      if (op.partitions.some((p) => p.replicas.some((r) => !m.brokers[r]))) return { err: "Invalid" };
      let changed = false;
      for (const p of op.partitions) {
        const leader = p.leader ?? p.replicas[0];
        m.topics[p.topic] ??= { name: p.topic, config: {}, createdAt: op.at, parts: {} };
        const old = m.topics[p.topic].parts[p.partitionId];
        if (!old) {
          m.topics[p.topic].parts[p.partitionId] = { replicas: p.replicas, leader, isr: p.replicas, leaderEpoch: 0, partitionEpoch: 0 };
          changed = true;
          continue;
        }
        if (eq(old.replicas, p.replicas) && old.leader === leader && !old.addingReplicas) continue;
        const sameSet = eq([...old.replicas].sort(), [...p.replicas].sort());
        m.topics[p.topic].parts[p.partitionId] = {
          replicas: p.replicas,
          leader,
          isr: sameSet ? p.replicas.filter((r) => has(old.isr, r) || r === leader) : p.replicas,
          leaderEpoch: old.leaderEpoch + (old.leader === leader ? 0 : 1),
          partitionEpoch: old.partitionEpoch + 1,
        };
        changed = true;
      }
      return { placements: changed };
    }
    case "updateLeader": {
      const p = part(op.topic, op.partitionId);
      if (!p) return { err: "NotFound" };
      if (op.leaderEpoch <= p.leaderEpoch) return { err: "Conflict" };
      if (!has(p.isr, op.leader)) return { err: "Invalid" };
      Object.assign(p, { leader: op.leader, leaderEpoch: op.leaderEpoch, partitionEpoch: p.partitionEpoch + 1 });
      return { placements: true };
    }
    case "updateIsr": {
      const p = part(op.topic, op.partitionId);
      if (!p) return { err: "NotFound" };
      if (op.leaderEpoch !== undefined && op.leaderEpoch !== p.leaderEpoch) return { err: "Conflict" };
      if (op.isr.some((r) => !has(p.replicas, r))) return { err: "Invalid" };
      const isr = p.replicas.filter((r: number) => has(op.isr, r));
      if (!eq(isr, p.isr)) Object.assign(p, { isr, partitionEpoch: p.partitionEpoch + 1 });
      return {};
    }
    case "beginReassignment": {
      const p = part(op.topic, op.partitionId);
      if (!p) return { err: "NotFound" };
      if (p.addingReplicas) return { err: "Conflict" };
      if (op.targetReplicas.some((r) => !m.brokers[r])) return { err: "Invalid" };
      if (eq(p.replicas, op.targetReplicas)) return {};
      const adding = op.targetReplicas.filter((r) => !has(p.replicas, r));
      const removing = p.replicas.filter((r: number) => !has(op.targetReplicas, r));
      p.partitionEpoch++;
      if (adding.length + removing.length === 0) {
        p.isr = op.targetReplicas.filter((r) => has(p.isr, r));
        p.replicas = op.targetReplicas;
      } else Object.assign(p, { replicas: [...op.targetReplicas, ...removing], addingReplicas: adding, removingReplicas: removing });
      return { placements: true };
    }
    case "completeReassignment": {
      const p = part(op.topic, op.partitionId);
      if (!p) return { err: "NotFound" };
      if (!p.addingReplicas) return { err: "Invalid" };
      if (p.addingReplicas.some((r: number) => !has(p.isr, r))) return { err: "Conflict" };
      const target = p.replicas.filter((r: number) => !has(p.removingReplicas, r));
      const isr = target.filter((r: number) => has(p.isr, r));
      if (isr.length === 0) return { err: "Conflict" };
      const leader = has(target, p.leader) ? p.leader : isr[0];
      m.topics[op.topic].parts[op.partitionId] = {
        replicas: target, leader, isr,
        leaderEpoch: p.leaderEpoch + (leader === p.leader ? 0 : 1),
        partitionEpoch: p.partitionEpoch + 1,
      };
      return { placements: true };
    }
  }
}

/** The model in the FSM's listing shapes, for a deep comparison. */
export function modelView(m: ModelState) {
  const brokers = Object.values(m.brokers).sort((a, b) => a.id - b.id);
  const names = Object.keys(m.topics).sort();
  const topics = names.map((n) => ({
    name: n,
    config: m.topics[n].config,
    createdAt: m.topics[n].createdAt,
    partitionCount: Object.keys(m.topics[n].parts).length,
  }));
  const partitions = names.flatMap((n) =>
    Object.entries(m.topics[n].parts)
      .map(([id, p]) => ({ topic: n, partitionId: Number(id), ...p }))
      .sort((a, b) => a.partitionId - b.partitionId)
  );
  return { brokers, topics, partitions, version: m.version, assignmentVersion: m.assignmentVersion };
}
