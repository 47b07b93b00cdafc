// The deterministic simulator's command line: `npx bun scripts/sim.ts --seeds 5000` runs seeds 1..5000,
// `--seed N` replays one (printing its full report), `--start S` shifts the range, `--steps N` bounds the
// events per seed, `--duration MS` the simulated workload time, `--profile NAME` forces a fault mix.
// Prints each failure with its seed and a summary; exits 1 when any seed failed.
import { PROFILES, runSeed, type RunOptions, type SeedResult } from "../src/testing/sim/run-seed.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const options: RunOptions = {};
if (arg("steps")) options.maxEvents = Number(arg("steps"));
if (arg("duration")) options.durationMs = Number(arg("duration"));
if (arg("profile")) {
  options.profile = arg("profile");
  if (!PROFILES.some((p) => p.name === options.profile)) {
    console.error(`unknown profile ${options.profile}; one of: ${PROFILES.map((p) => p.name).join(", ")}`);
    process.exit(2);
  }
}
if (arg("nodes")) options.nodes = Number(arg("nodes"));

const one = arg("seed");
if (one !== undefined) {
  const r = runSeed(Number(one), options);
  console.log(r.ok ? `seed ${r.seed} ok: ${describe(r)}` : r.report);
  console.log(`  ${describe(r)}`);
  process.exit(r.ok ? 0 : 1);
}

const count = Number(arg("seeds") ?? 200);
const start = Number(arg("start") ?? 1);
const started = performance.now();
const failures: SeedResult[] = [];
const byProfile = new Map<string, { runs: number; failed: number }>();
let events = 0, ops = 0, unknown = 0, checkTimeouts = 0, maxCheckSteps = 0;
for (let seed = start; seed < start + count; seed++) {
  const r = runSeed(seed, options);
  events += r.events;
  ops += r.ops.completed;
  unknown += r.ops.unknown;
  if (r.checkTimedOut) checkTimeouts++;
  maxCheckSteps = Math.max(maxCheckSteps, r.checkSteps);
  const p = byProfile.get(r.profile) ?? { runs: 0, failed: 0 };
  p.runs++;
  if (!r.ok) {
    p.failed++;
    failures.push(r);
    console.log(r.report.split("\n").slice(0, 6).join("\n"));
  }
  byProfile.set(r.profile, p);
  if ((seed - start + 1) % 500 === 0) {
    console.log(`.. ${seed - start + 1}/${count} seeds, ${failures.length} failed, ${((performance.now() - started) / 1000).toFixed(1)}s`);
  }
}
const secs = (performance.now() - started) / 1000;
console.log(`\nseeds ${start}..${start + count - 1}: ${count - failures.length} passed, ${failures.length} failed in ${secs.toFixed(1)}s`);
console.log(`  ${events} events, ${ops} client ops completed, ${unknown} timed out (unknown outcome)`);
console.log(`  linearizability checks: ${checkTimeouts} ran out of budget, at most ${maxCheckSteps} search steps per seed`);
for (const [name, p] of [...byProfile].sort()) console.log(`  ${name.padEnd(11)} ${p.runs} runs, ${p.failed} failed`);
if (failures.length) {
  const kinds = new Map<string, number[]>();
  for (const f of failures) kinds.set(f.invariant!, [...(kinds.get(f.invariant!) ?? []), f.seed]);
  for (const [k, seeds] of kinds) console.log(`  ${k}: seeds ${seeds.slice(0, 20).join(", ")}${seeds.length > 20 ? " ..." : ""}`);
}
process.exit(failures.length ? 1 : 0);

function describe(r: SeedResult): string {
  return `profile ${r.profile}, ${r.nodes} nodes, ${r.events} events, ${r.committed} entries committed, ` +
    `ops ${r.ops.completed} done / ${r.ops.unknown} unknown / ${r.ops.failed} rejected`;
}
