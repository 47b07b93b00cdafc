// File storage throughput (issue 5): appends/s and fdatasyncs/s with 1 and 64 entries per append, group
// commit under concurrent appends, hard-state writes, reopen time, CRC-32C speed. Reference: the disk's own
// rate of pwrite + fdatasync in a plain loop (same size as one framed 1-entry record), which bounds the
// durable append rate of one caller at a time. fdatasync latency on shared VMs is noisy: compare within a run.
// Run: npx bun scripts/bench/storage.ts [seconds per phase] [dir]   (also runs under node after esbuild, and deno)
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileStorage } from "../../runtimes/node/file-storage.ts";
import { crc32c } from "../../src/codec/crc32c.ts";
import type { Entry } from "../../src/raft/types.ts";

const SECONDS = Number(process.argv[2] ?? 2);
const root = mkdtempSync(join(process.argv[3] ?? tmpdir(), "streambus-bench-"));
const ENTRY_BYTES = 128;
const rt = (globalThis as { Bun?: unknown }).Bun ? "bun" : (globalThis as { Deno?: unknown }).Deno ? "deno" : "node";
const rate = (n: number, ms: number) => `${Math.round((n * 1000) / ms).toLocaleString("en-US")}/s`;

function entries(from: number, count: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({ index: from + i, term: 1, type: "normal" as const, data: new Uint8Array(ENTRY_BYTES).fill(i) }));
}

async function reference(): Promise<void> {
  const fh = await open(join(root, "raw"), "w+");
  const block = new Uint8Array(12 + ENTRY_BYTES + 8).fill(7);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    await fh.write(block, 0, block.length, n * block.length);
    await fh.datasync();
    n++;
  }
  const ms = performance.now() - t0;
  await fh.close();
  console.log(`reference  raw pwrite ${block.length} B + fdatasync loop (fs/promises): ${rate(n, ms)} fdatasyncs (${(ms / n).toFixed(2)} ms each)`);
}

async function sequential(batch: number): Promise<void> {
  const s = fileStorage(join(root, `seq-${batch}`));
  await s.open();
  let next = 1;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    await s.append(entries(next, batch));
    next += batch;
  }
  const ms = performance.now() - t0;
  const { appends, datasyncs } = s.stats;
  console.log(
    `append     ${String(batch).padStart(2)} entr${batch === 1 ? "y " : "ies"} per call, one call at a time: ${rate(appends, ms)} appends, ` +
      `${rate(next - 1, ms)} entries, ${rate(datasyncs, ms)} fdatasyncs`,
  );
  await s.close();
}

async function concurrent(callers: number): Promise<void> {
  const s = fileStorage(join(root, `group-${callers}`));
  await s.open();
  let next = 1;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    const calls = [];
    for (let i = 0; i < callers; i++) calls.push(s.append(entries(next++, 1)));
    await Promise.all(calls);
  }
  const ms = performance.now() - t0;
  const { appends, datasyncs } = s.stats;
  console.log(
    `group      ${callers} concurrent 1-entry appends:        ${rate(appends, ms)} appends, ${rate(datasyncs, ms)} fdatasyncs ` +
      `(${(appends / datasyncs).toFixed(1)} appends per fdatasync)`,
  );
  await s.close();
}

async function hardState(): Promise<void> {
  const s = fileStorage(join(root, "hard"));
  await s.open();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) await s.setHardState({ term: 1, vote: 1, commit: ++n });
  console.log(`hardstate  setHardState (temp, fsync, rename, fsync dir): ${rate(n, performance.now() - t0)}`);
  await s.close();
}

async function reopen(count: number): Promise<void> {
  const dir = join(root, "reopen");
  const s = fileStorage(dir);
  await s.open();
  for (let i = 1; i <= count; i += 1000) await s.append(entries(i, 1000));
  await s.close();
  const t0 = performance.now();
  const r = fileStorage(dir);
  const initial = await r.open();
  console.log(`reopen     ${initial.entries.length.toLocaleString("en-US")} entries of ${ENTRY_BYTES} B:            ${(performance.now() - t0).toFixed(0)} ms`);
  await r.close();
}

function crcSpeed(): void {
  const data = new Uint8Array(16 << 20).map((_, i) => i * 31);
  crc32c(data);
  const t0 = performance.now();
  for (let i = 0; i < 4; i++) crc32c(data);
  const ms = performance.now() - t0;
  console.log(`crc32c     table-driven, slicing by 8:                ${((64 * 1000) / ms).toFixed(0)} MiB/s`);
}

try {
  console.log(`storage bench on ${rt}, ${SECONDS} s per phase, in ${root}`);
  await reference();
  await sequential(1);
  await sequential(64);
  await concurrent(64);
  await hardState();
  await reopen(100_000);
  crcSpeed();
} finally {
  rmSync(root, { recursive: true, force: true });
}
