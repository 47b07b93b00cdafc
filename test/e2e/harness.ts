/**
 * Real-process cluster harness for end-to-end tests and the Deno/Node smoke scripts. Uses only fetch,
 * node:child_process, node:net, node:fs and node:os, which Bun, Deno and Node all provide. Paths are relative
 * to the repository root (the current directory of every test command).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../helpers/net.ts";

export type RuntimeName = "bun" | "deno" | "node";

// Re-exported: the runtime smoke scripts take freePort from this harness.
export { freePort };

/** Polls `cond` until it returns a truthy value or `ms` pass; throws naming `what`. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, ms = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface HttpResult {
  status: number;
  body: any;
}

/** One admin API call; network errors come back as status 0. */
export async function http(port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { "content-type": "application/json", ...headers },
      ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch { /* text body (metrics) */ }
    return { status: res.status, body: parsed };
  } catch (e) {
    return { status: 0, body: { error: { code: "Network", message: (e as Error).message } } };
  }
}

/** Builds runtimes/node/node.ts to `outfile` with esbuild (as scripts/build.mjs does). */
export function buildNodeEntry(outfile: string): void {
  const r = spawnSync(join("node_modules", ".bin", "esbuild"), [
    "runtimes/node/node.ts", "--bundle", "--platform=node", "--format=esm", "--packages=external",
    `--outfile=${outfile}`, "--log-level=warning",
  ], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`esbuild failed: ${r.stderr || r.stdout}`);
}

export interface NodeProcOptions {
  id: number;
  runtime: RuntimeName;
  port: number;
  peers: string;
  dataDir: string;
  extraArgs?: string[];
  /** Path of the built Node entry (runtime "node"). */
  nodeEntry?: string;
}

/** One node process. */
export class NodeProc {
  child: ChildProcess | undefined;
  readonly lines: string[] = [];
  exitCode: number | null | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly o: NodeProcOptions) {}

  get id(): number {
    return this.o.id;
  }
  get port(): number {
    return this.o.port;
  }

  start(): void {
    const flags = ["--id", String(this.o.id), "--peers", this.o.peers, "--data-dir", this.o.dataDir, ...(this.o.extraArgs ?? [])];
    const [cmd, args] = this.o.runtime === "bun"
      ? [join("node_modules", ".bin", "bun"), ["run", "runtimes/bun/node.ts", ...flags]]
      : this.o.runtime === "deno"
      ? [join("node_modules", ".bin", "deno"), ["run", "-A", "--quiet", "runtimes/deno/node.ts", ...flags]]
      : ["node", [this.o.nodeEntry ?? "dist/node.js", ...flags]];
    this.exitCode = undefined;
    const child = spawn(cmd, args as string[], { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.exited = new Promise((resolve) => child.on("exit", (code) => {
      this.exitCode = code;
      resolve();
    }));
    const collect = (chunk: Buffer) => {
      for (const l of chunk.toString("utf8").split("\n")) if (l.trim()) this.lines.push(l);
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
  }

  /** Waits for the readiness line. */
  async ready(ms = 20_000): Promise<void> {
    await waitFor(() => {
      if (this.exitCode !== undefined) throw new Error(`node ${this.id} exited (${this.exitCode}): ${this.tail()}`);
      return this.lines.some((l) => l.includes('"node.ready"'));
    }, `node ${this.id} (${this.o.runtime}) to be ready`, ms);
  }

  /** Sends a signal and waits for the exit; returns the exit code. */
  async kill(signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<number | null | undefined> {
    if (!this.child || this.exitCode !== undefined) return this.exitCode;
    this.child.kill(signal);
    await this.exited;
    return this.exitCode;
  }

  tail(n = 15): string {
    return this.lines.slice(-n).join("\n");
  }
}

export interface ClusterOptions {
  runtimes: RuntimeName[];
  extraArgs?: string[];
  nodeEntry?: string;
}

/** N node processes on free loopback ports with temporary data directories. */
export class ProcCluster {
  readonly nodes: NodeProc[];
  readonly root: string;

  private constructor(nodes: NodeProc[], root: string) {
    this.nodes = nodes;
    this.root = root;
  }

  static async create(o: ClusterOptions): Promise<ProcCluster> {
    const root = mkdtempSync(join(tmpdir(), "streambus-e2e-"));
    const ports: number[] = [];
    for (const _ of o.runtimes) ports.push(await freePort());
    const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(",");
    const nodes = o.runtimes.map((runtime, i) => new NodeProc({
      id: i + 1, runtime, port: ports[i]!, peers, dataDir: join(root, `node-${i + 1}`),
      ...(o.extraArgs && { extraArgs: o.extraArgs }), ...(o.nodeEntry && { nodeEntry: o.nodeEntry }),
    }));
    return new ProcCluster(nodes, root);
  }

  async start(): Promise<void> {
    for (const n of this.nodes) n.start();
    await Promise.all(this.nodes.map((n) => n.ready()));
  }

  node(id: number): NodeProc {
    return this.nodes.find((n) => n.id === id)!;
  }

  running(): NodeProc[] {
    return this.nodes.filter((n) => n.child && n.exitCode === undefined);
  }

  /** The leader every running node agrees on (and that calls itself leader). */
  async leader(ms = 20_000): Promise<NodeProc> {
    return await waitFor(async () => {
      const healths = await Promise.all(this.running().map((n) => http(n.port, "GET", "/health")));
      const ids = new Set(healths.map((h) => h.body?.leaderId));
      if (ids.size !== 1) return undefined;
      const id = [...ids][0];
      const leader = this.running().find((n) => n.id === id);
      if (!leader) return undefined;
      const h = healths[this.running().indexOf(leader)]!;
      return h.body?.role === "leader" ? leader : undefined;
    }, "one leader all running nodes agree on", ms);
  }

  /** Kills every process (SIGKILL) and removes the data directories. */
  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill("SIGKILL").catch(() => {})));
    try {
      rmSync(this.root, { recursive: true, force: true });
    } catch { /* best effort */ }
  }

  logs(): string {
    return this.nodes.map((n) => `--- node ${n.id} (${n.o.runtime})\n${n.tail(25)}`).join("\n");
  }
}
