/**
 * The admin HTTP API of CONTRACT.md §3 as a Hono app (web standards only, same on every runtime).
 * Writes work on any node: the metadata layer forwards them through Raft, heartbeats and drains go to the
 * leader over the peer link. Reads are linearizable (a ReadIndex barrier, then this node's applied state)
 * unless `?consistency=stale`.
 *
 * @example
 * const app = createAdminRouter({ node, metadata, registry, coordinator, metrics, adminToken });
 * runtime.serve(app, "127.0.0.1", 19001);
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { Assignment } from "../cluster/assignment.ts";
import type { BrokerRegistry } from "../cluster/broker-registry.ts";
import type { ClusterCoordinator } from "../cluster/cluster-coordinator.ts";
import type { AssignmentConstraints, BrokerMetadata, TopicState } from "../cluster/types.ts";
import { isStreamBusError, StreamBusError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { MetadataStore } from "../metadata/metadata-store.ts";
import { topicState } from "../metadata/cluster-metadata-store.ts";
import type { MetricsRegistry } from "../metrics.ts";
import { allMembers } from "../raft/conf-change.ts";
import type { ConfState, Role } from "../raft/types.ts";
import { requireTokenOnWrites } from "./auth.ts";
import { errorResponse, toErrorResponse } from "./http-errors.ts";
import type * as Schemas from "./schemas.ts";

// The request schemas pull in zod (several MB of code once loaded): load them with the first request that
// needs them rather than at start, so an idle node stays small (bench:footprint).
let schemasModule: Promise<typeof Schemas> | undefined;
const schemas = (): Promise<typeof Schemas> => (schemasModule ??= import("./schemas.ts"));

/** What the admin API reads from (and asks of) the Raft node. */
export interface AdminRaftView {
  readonly id: number;
  status(): { term: number; commit: number; applied: number; role: Role; lead: number; conf: ConfState; running?: boolean; addrs?: Record<string, string>; clusterId?: string };
  leaderId(): number | undefined;
  /** Membership changes; each resolves once applied on this node (RaftNode's). */
  addVoter(id: number, addr: string): Promise<void>;
  addLearner(id: number, addr: string): Promise<void>;
  removeNode(id: number): Promise<void>;
}

export interface AdminDeps {
  node: AdminRaftView;
  metadata: MetadataStore;
  registry: BrokerRegistry;
  coordinator: ClusterCoordinator;
  metrics: MetricsRegistry;
  /** Address of each member, for GET /v1/cluster. */
  memberAddr?: (id: number) => string | undefined;
  /** Bearer token required on writes; none means writes are open. */
  adminToken?: string;
  /** Largest request body, bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Where unexpected (500) errors are logged. */
  logger?: Logger;
  /** Mounts extra routes (the peer WebSocket) before the 404 fallback. */
  extend?: (app: Hono) => void;
}

type Consistency = "linearizable" | "stale";

/** Builds the admin app. */
export function createAdminRouter(deps: AdminDeps): Hono {
  const { node, metadata, registry, coordinator } = deps;
  const app = new Hono();
  const maxBody = deps.maxBodyBytes ?? 1 << 20;

  app.onError((e, c) => {
    if (!isStreamBusError(e)) deps.logger?.error("admin.internal_error", { method: c.req.method, path: new URL(c.req.url).pathname, error: e });
    return toErrorResponse(c, e);
  });
  app.notFound((c) => errorResponse(c, 404, "NotFound", `no route ${c.req.method} ${new URL(c.req.url).pathname}`));
  deps.extend?.(app);

  app.use("/v1/*", requireTokenOnWrites(deps.adminToken));
  const tooLarge = (c: Context) => errorResponse(c, 413, "TooLarge", `request body exceeds ${maxBody} bytes`);
  const limitStreamed = bodyLimit({ maxSize: maxBody, onError: tooLarge });
  app.use("/v1/*", async (c, next) => {
    // With a Content-Length the header decides (as in hono's bodyLimit), without touching req.body, which
    // on Bun builds a ReadableStream per request; chunked bodies are counted by hono's middleware.
    const headers = c.req.raw.headers;
    const length = headers.get("content-length");
    if (length !== null && !headers.has("transfer-encoding")) return parseInt(length, 10) > maxBody ? tooLarge(c) : await next();
    return await limitStreamed(c, next);
  });

  /** Waits for a linearizable read point unless the caller asked for a stale read. */
  const readPoint = async (c: Context): Promise<Consistency> => {
    const q = c.req.query("consistency");
    if (q !== undefined && q !== "linearizable" && q !== "stale") {
      throw new StreamBusError("Invalid", `consistency must be "linearizable" or "stale", got "${q.slice(0, 40)}"`);
    }
    const consistency: Consistency = q === "stale" ? "stale" : "linearizable";
    if (consistency === "linearizable") await metadata.versions();
    return consistency;
  };

  app.get("/health", (c) => {
    const s = node.status();
    const leaderId = node.leaderId();
    const running = s.running !== false;
    return c.json({
      status: !running ? "stopped" : leaderId === undefined ? "no-leader" : "ok",
      nodeId: node.id,
      role: s.role,
      leaderId: leaderId ?? null,
      term: s.term,
      commitIndex: s.commit,
      appliedIndex: s.applied,
    }, running ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    c.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(await deps.metrics.renderAsync());
  });

  /** Members with their replicated address (a member added later has only that), else the start-up one. */
  const clusterView = () => {
    const s = node.status();
    const leaderId = node.leaderId();
    const nodes = allMembers(s.conf).map((id) => ({
      id,
      addr: s.addrs?.[String(id)] || deps.memberAddr?.(id) || "",
      role: id === leaderId ? "leader" : s.conf.learners.includes(id) ? "learner" : "follower",
    }));
    return { leaderId: leaderId ?? null, term: s.term, nodes, version: metadata.fsm.version, clusterId: s.clusterId ?? null };
  };

  app.get("/v1/cluster", async (c) => {
    await readPoint(c);
    return c.json(clusterView());
  });

  // Adds a member (a voter, or a learner that catches up without counting toward quorum; posting a learner
  // again without "learner" promotes it). Start the new node with --join afterwards.
  app.post("/v1/cluster/members", async (c) => {
    const { parseWith, memberBody } = await schemas();
    const body = parseWith(memberBody, await jsonBody(c, true), "member");
    if (body.learner) await node.addLearner(body.id, body.addr);
    else await node.addVoter(body.id, body.addr);
    return c.json(clusterView(), 201);
  });

  app.delete("/v1/cluster/members/:id", async (c) => {
    const { parseId } = await schemas();
    const id = parseId(c.req.param("id"), "member id");
    await readPoint(c);
    if (!allMembers(node.status().conf).includes(id)) {
      throw new StreamBusError("NotFound", `node ${id} is not a member of this cluster`);
    }
    await node.removeNode(id);
    return c.json(clusterView());
  });

  // ---- brokers ----------------------------------------------------------------------------------

  app.post("/v1/brokers", async (c) => {
    const { parseWith, brokerBody } = await schemas();
    const body = parseWith(brokerBody, await jsonBody(c, true), "broker");
    const { broker, created } = await registry.registerBroker(body as BrokerMetadata);
    return c.json(broker, created ? 201 : 200);
  });

  app.get("/v1/brokers", async (c) => {
    // After the read point, the registry's replicated cache is as fresh as a linearizable read.
    await readPoint(c);
    return c.json({ brokers: await registry.listBrokers({ consistency: "stale" }) });
  });

  app.get("/v1/brokers/:id", async (c) => {
    const id = (await schemas()).parseId(c.req.param("id"), "broker id");
    await readPoint(c);
    return c.json(await registry.getBroker(id, { consistency: "stale" }));
  });

  app.delete("/v1/brokers/:id", async (c) => {
    const id = (await schemas()).parseId(c.req.param("id"), "broker id");
    await registry.deregisterBroker(id);
    return c.json({ id, deleted: true });
  });

  app.post("/v1/brokers/:id/heartbeat", async (c) => {
    const id = (await schemas()).parseId(c.req.param("id"), "broker id");
    const { parseWith, heartbeatBody } = await schemas();
    const body = parseWith(heartbeatBody, (await jsonBody(c, false)) ?? {}, "heartbeat");
    return c.json(await registry.recordHeartbeat(id, body.epoch === undefined ? {} : { epoch: body.epoch }));
  });

  app.post("/v1/brokers/:id/drain", async (c) => {
    const id = (await schemas()).parseId(c.req.param("id"), "broker id");
    await registry.getBroker(id); // 404 before any work for an unknown broker
    const result = await coordinator.drainBroker(id);
    return c.json({ broker: await registry.getBroker(id), result });
  });

  // ---- topics -----------------------------------------------------------------------------------

  app.post("/v1/topics", async (c) => {
    const { parseWith, topicBody } = await schemas();
    const body = parseWith(topicBody, await jsonBody(c, true), "topic");
    const constraints: AssignmentConstraints | undefined = body.constraints && {
      ...(body.constraints.rackAware !== undefined && { rackAware: body.constraints.rackAware }),
      ...(body.constraints.excludedBrokers && { excludedBrokers: new Set(body.constraints.excludedBrokers) }),
      ...(body.constraints.maxPartitionsPerBroker !== undefined && { maxPartitionsPerBroker: body.constraints.maxPartitionsPerBroker }),
    };
    const { topic, assignment } = await coordinator.createTopic(body.name, body.partitions, body.replicationFactor, constraints, body.config ?? {});
    return c.json({ ...topicView(topic), assignment: assignment.toJSON() }, 201);
  });

  app.get("/v1/topics", async (c) => {
    await readPoint(c);
    return c.json({ topics: metadata.fsm.listTopics().map((t) => topicView(topicState(metadata.fsm, t.name))) });
  });

  app.get("/v1/topics/:name", async (c) => {
    const name = c.req.param("name");
    await readPoint(c);
    return c.json(topicView(topicState(metadata.fsm, name)));
  });

  app.delete("/v1/topics/:name", async (c) => {
    const name = c.req.param("name");
    await metadata.deleteTopic(name);
    return c.json({ name, deleted: true });
  });

  // ---- assignment -------------------------------------------------------------------------------

  app.get("/v1/assignment", async (c) => {
    await readPoint(c);
    return c.json(new Assignment(metadata.fsm.listPlacements(), metadata.fsm.assignmentVersion).toJSON());
  });

  app.post("/v1/rebalance", async (c) => {
    const { parseWith, rebalanceBody } = await schemas();
    const body = parseWith(rebalanceBody, (await jsonBody(c, false)) ?? {}, "rebalance request");
    const r = await coordinator.rebalance({ dryRun: body.dryRun ?? false });
    return c.json(r);
  });

  return app;
}

/** The request body as JSON; undefined for an empty optional body. Invalid for malformed JSON. */
async function jsonBody(c: Context, required: boolean): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") {
    if (required) throw new StreamBusError("Invalid", "this request needs a JSON body");
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new StreamBusError("Invalid", "request body is not valid JSON");
  }
}

function topicView(t: TopicState) {
  return {
    name: t.name,
    config: t.config,
    partitions: t.partitions.map((p) => ({
      partitionId: p.partitionId,
      replicas: p.replicas,
      leader: p.leader,
      isr: p.isr,
      leaderEpoch: p.leaderEpoch,
    })),
  };
}
