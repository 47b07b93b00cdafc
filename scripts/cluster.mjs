#!/usr/bin/env node
// `npm run cluster`: three local StreamBus nodes (Bun) on 127.0.0.1:19001-19003, data under
// ./data/cluster/node-<id> (apart from `npm start`'s one-node cluster in ./data/node-1, whose log would make
// node 1 a cluster of its own), with each node's JSON log lines printed as readable lines prefixed by the
// node. Ctrl-C stops all three gracefully (the leader hands over first).
//   node scripts/cluster.mjs [--runtime bun|deno|node] [--nodes 3] [--base-port 19001] [extra flags for every node]
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

const args = process.argv.slice(2);
const take = (flag, dflt) => {
  const i = args.indexOf(flag);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const runtime = take("--runtime", "bun");
const count = Number(take("--nodes", "3"));
const basePort = Number(take("--base-port", "19001"));
const bin = (name) => join("node_modules", ".bin", name);
const peers = Array.from({ length: count }, (_, i) => `${i + 1}=127.0.0.1:${basePort + i}`).join(",");

function command(id) {
  const flags = ["--id", String(id), "--peers", peers, "--data-dir", join("data", "cluster", `node-${id}`), ...args];
  if (runtime === "bun") return [bin("bun"), ["run", "runtimes/bun/node.ts", ...flags]];
  if (runtime === "deno") return [bin("deno"), ["run", "-A", "runtimes/deno/node.ts", ...flags]];
  if (runtime === "node") {
    if (!existsSync("dist/node.js")) {
      console.error("dist/node.js is missing: run `npm run build` first");
      process.exit(1);
    }
    return [process.execPath, ["dist/node.js", ...flags]];
  }
  console.error(`unknown --runtime ${runtime} (bun, deno or node)`);
  process.exit(2);
}

const colors = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m"];
const tty = process.stdout.isTTY;
function pretty(line) {
  let o;
  try {
    o = JSON.parse(line);
  } catch {
    return line;
  }
  if (!o || typeof o !== "object" || !o.event) return line;
  const { ts, level, node: _n, event, ...rest } = o;
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
  return `${String(ts ?? "").slice(11, 23)} ${String(level).padEnd(5)} ${event}${fields ? "  " + fields : ""}`;
}

const children = [];
let exiting = false;
for (let id = 1; id <= count; id++) {
  const [cmd, argv] = command(id);
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
  const prefix = `${tty ? colors[(id - 1) % colors.length] : ""}[node${id}]${tty ? "\x1b[0m" : ""} `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (l) => console.log(prefix + pretty(l)));
  }
  child.on("exit", (code, signal) => {
    console.log(`${prefix}exited (${signal ?? code})`);
    if (!exiting && children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(0);
  });
  children.push(child);
}

function stopAll(signal) {
  if (exiting) return;
  exiting = true;
  for (const c of children) if (c.exitCode === null) c.kill(signal);
  let left = children.length;
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) left--;
    else c.once("exit", () => --left === 0 && process.exit(0));
  }
  if (left === 0) process.exit(0);
  setTimeout(() => process.exit(1), 15_000).unref();
}
process.on("SIGINT", () => stopAll("SIGTERM"));
process.on("SIGTERM", () => stopAll("SIGTERM"));
