/**
 * Every failure StreamBus reports is a `StreamBusError` with a stable `code`, so callers branch on the
 * code, never on the message.
 *
 * @example
 * try { await store.getBroker(7); } catch (e) { if (e instanceof StreamBusError && e.code === "NotFound") ... }
 */
export type ErrorCode =
  | "NotLeader" // this node is not the leader; `leaderId` names the known leader, if any
  | "NoLeader" // no leader is known right now; retry later
  | "Timeout" // the deadline passed; the outcome is unknown
  | "Conflict" // a compare-and-set version did not match, or the thing already exists
  | "NotFound" // unknown broker, topic, partition or route
  | "Invalid" // the request is malformed or breaks a rule; nothing changed
  | "Unavailable" // the node is stopping, or a peer cannot be reached
  | "Corrupt" // on-disk or on-wire data failed its checks
  | "Unauthorized" // a token or cluster secret was missing or wrong
  | "TooLarge"; // a frame or body exceeds its limit

export class StreamBusError extends Error {
  override readonly name = "StreamBusError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { leaderId?: number; [key: string]: unknown } = {},
  ) {
    super(message);
  }

  /** The id of the leader this error points at, when it names one (NotLeader). */
  get leaderId(): number | undefined {
    return this.details.leaderId;
  }
}

/** True when `e` is a StreamBusError, optionally with one of the given codes. */
export function isStreamBusError(e: unknown, ...codes: ErrorCode[]): e is StreamBusError {
  return e instanceof StreamBusError && (codes.length === 0 || codes.includes(e.code));
}
