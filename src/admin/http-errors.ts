/**
 * The admin API's error shape, `{ error: { code, message } }`, and the HTTP status of each StreamBusError code.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, isStreamBusError } from "../errors.ts";

export const STATUS_OF: Record<ErrorCode, ContentfulStatusCode> = {
  Invalid: 400,
  Unauthorized: 401,
  NotFound: 404,
  Conflict: 409,
  TooLarge: 413,
  NotLeader: 503,
  NoLeader: 503,
  Unavailable: 503,
  Timeout: 504,
  Corrupt: 500,
};

export interface ErrorBody {
  error: { code: string; message: string };
}

/** A JSON error response in the documented shape. */
export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  if (status === 503) c.header("Retry-After", "1");
  return c.json({ error: { code, message } } satisfies ErrorBody, status);
}

/** Maps anything thrown by a handler to the error shape; unknown errors become 500 without internals. */
export function toErrorResponse(c: Context, e: unknown): Response {
  if (isStreamBusError(e)) return errorResponse(c, STATUS_OF[e.code] ?? 500, e.code, e.message);
  return errorResponse(c, 500, "Internal", "internal error; see the node's log");
}
