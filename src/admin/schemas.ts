/** Request schemas of the admin API (zod), and one readable message per validation failure. */
import { z } from "zod";
import { StreamBusError } from "../errors.ts";

const id = z.number().int().positive().max(2 ** 31 - 1);
const nonNegative = z.number().finite().nonnegative();

export const brokerBody = z.object({
  id,
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  rack: z.string().min(1).max(255).optional(),
  capacity: z.number().finite().positive().optional(),
  diskCapacityGB: nonNegative.optional(),
  diskUsedGB: nonNegative.optional(),
  networkBandwidth: nonNegative.optional(),
  version: z.string().max(255).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  // Registry-owned: accepted (so a GET result can be posted back) and ignored by the registry.
  status: z.enum(["STARTING", "ALIVE", "DRAINING", "DECOMMISSIONED", "FAILED"]).optional(),
  epoch: z.number().int().nonnegative().optional(),
  lastHeartbeat: nonNegative.optional(),
  registeredAt: nonNegative.optional(),
}).strict();

export const heartbeatBody = z.object({ epoch: z.number().int().nonnegative().optional() }).strict();

export const constraintsBody = z.object({
  rackAware: z.boolean().optional(),
  excludedBrokers: z.array(id).optional(),
  maxPartitionsPerBroker: z.number().int().positive().optional(),
}).strict();

export const topicBody = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, "must be 1-249 characters of [A-Za-z0-9._-]"),
  partitions: z.number().int().min(1).max(100_000),
  replicationFactor: z.number().int().min(1).max(64),
  constraints: constraintsBody.optional(),
  config: z.record(z.string(), z.unknown()).optional(),
}).strict();

export const rebalanceBody = z.object({ dryRun: z.boolean().optional() }).strict();

export const memberBody = z.object({
  id,
  addr: z.string().max(255)
    .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "must be host:port (IPv6 in brackets)")
    .refine((a) => Number(a.slice(a.lastIndexOf(":") + 1)) <= 65535, "port must be at most 65535"),
  learner: z.boolean().optional(),
}).strict();

/** Parses `value` with `schema`, or throws StreamBusError Invalid naming the first problems. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, 3).map((i) => {
    const path = i.path.length ? i.path.join(".") : "body";
    return `${path}: ${i.message}`;
  });
  throw new StreamBusError("Invalid", `invalid ${what}: ${problems.join("; ")}`);
}

/** A path parameter that must be a positive integer id. */
export function parseId(raw: string, what: string): number {
  const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 31 - 1) {
    throw new StreamBusError("Invalid", `${what} must be a positive integer, got "${raw.slice(0, 40)}"`);
  }
  return n;
}
