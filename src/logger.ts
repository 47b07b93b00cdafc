/**
 * Structured logging: one JSON line per event with level, node id, term (when known) and event name.
 *
 * @example
 * const log = jsonLogger({ nodeId: 1 }, console.log);
 * log.info("leader.elected", { term: 3 });  // {"ts":"…","level":"info","node":1,"event":"leader.elected","term":3}
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger writing one JSON object per line through `write`, dropping levels below `level`. */
export function jsonLogger(
  base: { nodeId?: number } & LogFields,
  write: (line: string) => void,
  level: LogLevel = "info",
): Logger {
  const { nodeId, ...rest } = base;
  const emit = (lvl: LogLevel) => (event: string, fields?: LogFields) => {
    if (order[lvl] < order[level]) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level: lvl, node: nodeId, event, ...rest, ...fields }, jsonSafe));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { message: value.message, code: (value as { code?: string }).code };
  if (typeof value === "bigint") return value.toString();
  return value;
}
