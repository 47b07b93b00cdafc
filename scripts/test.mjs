#!/usr/bin/env node
// The one test command (`npm test`): type check, the bun:test suites, then smoke checks under Deno and Node.
// Ends with one line `N passed, N failed[, N skipped]` summing every part. Exits non-zero on any failure.
// Extra arguments are passed to `bun test` (e.g. `npm test -- test/raft`), and then the smoke checks are skipped.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

const bin = (name) => join("node_modules", ".bin", name);
let passed = 0, failed = 0, skipped = 0;
const failures = [];

function run(label, cmd, args, opts = {}) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 << 20, ...opts });
  const out = (r.stdout ?? "") + (r.stderr ?? "");
  return { ok: r.status === 0, out, secs: ((Date.now() - started) / 1000).toFixed(1), status: r.status ?? r.signal };
}

function record(label, ok, out, secs) {
  if (ok) passed++; else { failed++; failures.push(label); process.stdout.write(out.slice(-8000) + "\n"); }
  console.log(`${ok ? "ok  " : "FAIL"} ${label} (${secs}s)`);
}

const extra = process.argv.slice(2);

// 1. Type check.
{
  const r = run("tsc", bin("tsc"), ["--noEmit", "-p", "."]);
  record("tsc --noEmit", r.ok, r.out, r.secs);
  // Deno-only files are outside tsconfig (they use the Deno namespace); Deno checks them itself.
  const denoFiles = ["runtimes/deno", "test/runtimes/deno"].filter(existsSync)
    .flatMap((d) => readdirSync(d).filter((f) => f.endsWith(".ts")).map((f) => join(d, f)));
  if (denoFiles.length) {
    const d = run("deno check", bin("deno"), ["check", "--quiet", ...denoFiles]);
    record("deno check", d.ok, d.out, d.secs);
  }
}

// 2. bun:test suites.
{
  const r = spawnSync(bin("bun"), ["test", "--timeout", "60000", ...(extra.length ? extra : ["test/"])], {
    encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 << 20,
  });
  const out = (r.stdout ?? "") + (r.stderr ?? "");
  // Show failing tests (and anything a test printed on failure, such as seeds), not the whole log.
  const lines = out.split("\n");
  const shown = lines.filter((l) => /\(fail\)|error:|seed|Expected|Received|^\s+at /.test(l)).slice(0, 400);
  if (shown.length) console.log(shown.join("\n"));
  const count = (word) => Number(out.match(new RegExp(`^\\s*(\\d+) ${word}$`, "m"))?.[1] ?? 0);
  const p = count("pass"), f = count("fail"), s = count("skip") + count("todo");
  passed += p; failed += f; skipped += s;
  if (r.status !== 0 && f === 0) { failed++; failures.push("bun test (exit " + r.status + ")"); console.log(out.slice(-8000)); }
  console.log(`bun test: ${p} pass, ${f} fail, ${s} skip`);
}

// 3. Smoke checks under Deno and Node (each file is a script that exits 0 on success).
if (extra.length === 0) {
  const dir = (rt) => join("test", "runtimes", rt);
  if (existsSync(dir("deno"))) {
    for (const f of readdirSync(dir("deno")).filter((f) => f.endsWith(".ts")).sort()) {
      const r = run(f, bin("deno"), ["run", "-A", "--quiet", join(dir("deno"), f)]);
      record(`deno ${f}`, r.ok, r.out, r.secs);
    }
  }
  if (existsSync(dir("node"))) {
    mkdirSync(".tmp/node-smoke", { recursive: true });
    for (const f of readdirSync(dir("node")).filter((f) => f.endsWith(".ts")).sort()) {
      const outfile = join(".tmp", "node-smoke", f.replace(/\.ts$/, ".mjs"));
      const b = run(`build ${f}`, bin("esbuild"), [join(dir("node"), f), "--bundle", "--platform=node", "--format=esm",
        "--packages=external", `--outfile=${outfile}`, "--log-level=warning"]);
      const r = b.ok ? run(f, process.execPath, [outfile]) : b;
      record(`node ${f}`, r.ok, r.out, r.secs);
    }
  }
}

if (failures.length) console.log("failed: " + failures.join(", "));
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
process.exit(failed ? 1 : 0);
