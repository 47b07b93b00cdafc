/**
 * The simulator's application: a key-value register with client sessions. A command carries
 * (client, seq); a command already applied for that client returns its recorded result instead of
 * applying twice (a duplicated forwarded proposal must not write twice).
 */
import type { StateMachine } from "../../raft/types.ts";

export type KvCommand =
  | { c: number; s: number; op: "put"; k: string; v: string }
  | { c: number; s: number; op: "cas"; k: string; e: string | null; v: string };

export interface KvResult {
  ok: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand | undefined {
  try {
    const v = JSON.parse(decoder.decode(data));
    return v && typeof v === "object" && typeof v.c === "number" ? (v as KvCommand) : undefined;
  } catch {
    return undefined;
  }
}

export class KvStateMachine implements StateMachine {
  values = new Map<string, string>();
  /** client -> last applied seq and its result. */
  sessions = new Map<number, { seq: number; result: KvResult }>();

  apply(data: Uint8Array): KvResult | undefined {
    const cmd = decodeCommand(data);
    if (!cmd) return undefined; // opaque test payloads (scenario tests) are just logged
    const last = this.sessions.get(cmd.c);
    if (last && last.seq >= cmd.s) return last.result;
    let result: KvResult;
    if (cmd.op === "put") {
      this.values.set(cmd.k, cmd.v);
      result = { ok: true };
    } else {
      const cur = this.values.get(cmd.k) ?? null;
      result = { ok: cur === cmd.e };
      if (result.ok) this.values.set(cmd.k, cmd.v);
    }
    this.sessions.set(cmd.c, { seq: cmd.s, result });
    return result;
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    const values = [...this.values].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const sessions = [...this.sessions].sort((a, b) => a[0] - b[0]);
    return encoder.encode(JSON.stringify({ values, sessions }));
  }

  restore(data: Uint8Array): void {
    const v = JSON.parse(decoder.decode(data)) as {
      values: [string, string][];
      sessions: [number, { seq: number; result: KvResult }][];
    };
    this.values = new Map(v.values);
    this.sessions = new Map(v.sessions);
  }
}
