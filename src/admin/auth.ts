/** Bearer-token check for admin writes, compared in constant time. */
import type { MiddlewareHandler } from "hono";
import { errorResponse } from "./http-errors.ts";

const encoder = new TextEncoder();

/** Compares two strings without an early exit, so timing does not reveal how much of a guess matched. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < n; i++) diff |= (x[i % (x.length || 1)] ?? 0) ^ (y[i % (y.length || 1)] ?? 0) ^ (i >= x.length || i >= y.length ? 1 : 0);
  return diff === 0;
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Requires `Authorization: Bearer <token>` on write methods when a token is configured. */
export function requireTokenOnWrites(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token && WRITE_METHODS.has(c.req.method)) {
      const header = c.req.header("authorization") ?? "";
      const m = /^Bearer\s+(.+)$/i.exec(header.trim());
      if (!m || !constantTimeEqual(m[1]!, token)) {
        c.header("WWW-Authenticate", 'Bearer realm="streambus"');
        return errorResponse(c, 401, "Unauthorized", m ? "the admin token is wrong" : "this write needs Authorization: Bearer <admin token>");
      }
    }
    await next();
  };
}
