import { afterAll, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileStorage } from "../../runtimes/node/file-storage.ts";
import { frameRecord } from "../../runtimes/node/record-file.ts";
import { cbor } from "../../runtimes/node/segment-log.ts";
import { isStreamBusError, type StreamBusError } from "../../src/errors.ts";
import type { ConfState } from "../../src/raft/types.ts";
import { makeEntries, runStorageConformance } from "../../src/testing/conformance/storage.ts";
import { trimToRecords } from "./segment-files.ts";

const conf: ConfState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

const root = mkdtempSync(join(tmpdir(), "streambus-fs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

runStorageConformance("file (64 MiB segments)", () => {
  const dir = join(root, `c${n++}`);
  return { storage: fileStorage(dir), reopen: () => fileStorage(dir), dispose: () => rmSync(dir, { recursive: true, force: true }) };
});

// Tiny segments, so rolling, truncating across segments and dropping whole segments all happen.
runStorageConformance("file (tiny segments)", () => {
  const dir = join(root, `t${n++}`);
  const opts = { segmentBytes: 200 };
  return { storage: fileStorage(dir, opts), reopen: () => fileStorage(dir, opts), dispose: () => rmSync(dir, { recursive: true, force: true }) };
});

// ---- recovery and the on-disk format ----

function logFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".log")).sort().map((f) => join(dir, f));
}

/**
 * A log of `count` entries. Its segments are trimmed to their records unless `zerosAhead`, so the tests
 * below can damage "the last record" at the end of the file.
 */
async function filled(name: string, count: number, opts?: { segmentBytes: number }, zerosAhead = false): Promise<string> {
  const dir = join(root, name);
  const s = fileStorage(dir, opts);
  await s.open();
  await s.append(makeEntries(1, count, 1, 40));
  await s.setHardState({ term: 1, vote: 1, commit: count });
  await s.close();
  if (!zerosAhead) for (const f of logFiles(dir)) trimToRecords(f);
  return dir;
}

async function expectCorrupt(dir: string, file: string, offset: number): Promise<void> {
  const s = fileStorage(dir);
  let err: unknown;
  try {
    await s.open();
  } catch (e) {
    err = e;
  }
  expect(isStreamBusError(err, "Corrupt")).toBe(true);
  const e = err as StreamBusError;
  expect(e.message).toContain(file);
  expect(e.message).toContain(`byte offset ${offset}`);
  expect(e.details).toMatchObject({ file, offset });
}

const RECORD = 12 + 46; // header + CBOR [index, term, type, h"..."] of a 40-byte entry with index and term below 24

test("a record is 12 header bytes plus the CBOR entry, back to back", async () => {
  const dir = await filled("format", 3);
  const [file] = logFiles(dir);
  expect(statSync(file).size).toBe(3 * RECORD);
});

test("a segment keeps 1 MiB of zeros written past its records: reopening keeps them, appends overwrite them", async () => {
  const MiB = 1 << 20;
  const dir = await filled("zeros-ahead", 3, undefined, true);
  const [file] = logFiles(dir);
  const end = 3 * RECORD; // three entries (term and vote went to the hardstate file)
  let buf = readFileSync(file);
  expect(buf.length).toBe(end + MiB);
  expect(buf.subarray(end).every((b) => b === 0)).toBe(true);
  const s = fileStorage(dir);
  expect((await s.open()).entries).toEqual(makeEntries(1, 3, 1, 40));
  expect(s.recovery.tornBytes).toBe(0);
  expect(statSync(file).size).toBe(end + MiB); // nothing cut
  await s.append(makeEntries(4, 5, 1, 40)); // lands in the zeros: the file's size does not change
  await s.close();
  buf = readFileSync(file);
  expect(buf.length).toBe(end + MiB);
  expect(buf.subarray(end + 2 * RECORD).every((b) => b === 0)).toBe(true);
  const again = fileStorage(dir);
  expect((await again.open()).entries).toEqual(makeEntries(1, 5, 1, 40));
  await again.close();
  // A record after the zeros means they are not the end: damage, not space written ahead.
  appendFileSync(file, frameRecord(new Uint8Array([1, 2, 3])));
  await expectCorrupt(dir, file, end + 2 * RECORD);
});

test("zeros ahead stop at the segment size; older segments with zeros open", async () => {
  const opts = { segmentBytes: 3 * RECORD };
  const dir = await filled("zeros-tiny", 8, opts, true);
  const files = logFiles(dir);
  expect(files.length).toBeGreaterThan(2);
  for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(3 * RECORD);
  const s = fileStorage(dir, opts);
  expect((await s.open()).entries).toEqual(makeEntries(1, 8, 1, 40));
  expect(s.recovery.tornBytes).toBe(0);
  await s.close();
});

test("a torn record written into the zeros is cut off with them; appends continue", async () => {
  const dir = await filled("zeros-torn", 3, undefined, true);
  const [file] = logFiles(dir);
  const end = 3 * RECORD;
  const size = statSync(file).size;
  const buf = readFileSync(file);
  frameRecord(new Uint8Array(40).fill(7)).slice(0, 30).forEach((b, i) => (buf[end + i] = b)); // half a record
  writeFileSync(file, buf);
  const s = fileStorage(dir);
  expect((await s.open()).entries).toEqual(makeEntries(1, 3, 1, 40));
  expect(s.recovery).toEqual({ tornBytes: size - end, file });
  expect(statSync(file).size).toBe(end);
  await s.append(makeEntries(4, 4, 1, 40));
  await s.close();
  const again = fileStorage(dir);
  expect((await again.open()).entries).toEqual(makeEntries(1, 4, 1, 40));
  expect(again.recovery.tornBytes).toBe(0);
  await again.close();
});

test("segments written before entries were direct CBOR tuples (cbor-x's tagged byte strings) still open", async () => {
  const dir = await filled("old-format", 2);
  const [file] = logFiles(dir);
  const data = new Uint8Array([1, 2, 3]);
  // What encodeEntry wrote before: cbor-x's encoding, which tags a Uint8Array (tag 64).
  const old = cbor.encode([3, 1, 0, data]) as Uint8Array;
  expect(old.includes(0xd8)).toBe(true);
  appendFileSync(file, frameRecord(old));
  const s = fileStorage(dir);
  const initial = await s.open();
  expect(initial.entries.at(-1)).toEqual({ index: 3, term: 1, type: "normal", data });
  await s.close();
});

test("a torn last record (cut short) is truncated away and appends continue", async () => {
  const dir = await filled("torn-short", 5);
  const [file] = logFiles(dir);
  const size = statSync(file).size;
  truncateSync(file, size - 7);
  const s = fileStorage(dir);
  const initial = await s.open();
  expect(initial.entries).toEqual(makeEntries(1, 4, 1, 40));
  expect(s.recovery).toEqual({ tornBytes: RECORD - 7, file });
  expect(statSync(file).size).toBe(4 * RECORD);
  await s.append(makeEntries(5, 6, 2, 40));
  await s.close();
  const again = fileStorage(dir);
  expect((await again.open()).entries).toEqual([...makeEntries(1, 4, 1, 40), ...makeEntries(5, 6, 2, 40)]);
  expect(again.recovery.tornBytes).toBe(0);
  await again.close();
});

test("a last record with a bad checksum is truncated away, with what follows; a zero-filled tail is kept", async () => {
  const dir = await filled("torn-crc", 5);
  const [file] = logFiles(dir);
  const buf = readFileSync(file);
  buf[buf.length - 3] ^= 0x40;
  writeFileSync(file, Buffer.concat([buf, Buffer.alloc(4096)]));
  const s = fileStorage(dir);
  expect((await s.open()).entries).toEqual(makeEntries(1, 4, 1, 40));
  await s.close();
  const z = await filled("torn-zero", 3);
  appendFileSync(logFiles(z)[0], Buffer.alloc(10_000));
  const s2 = fileStorage(z);
  expect((await s2.open()).entries.length).toBe(3);
  expect(s2.recovery.tornBytes).toBe(0); // zeros: space written ahead, not damage
  expect(statSync(logFiles(z)[0]).size).toBe(3 * RECORD + 10_000);
  await s2.close();
  const g = await filled("torn-garbage", 3);
  const noise = new Uint8Array(5000);
  for (let i = 0, x = 12345; i < noise.length; i++) noise[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  appendFileSync(logFiles(g)[0], noise);
  const s3 = fileStorage(g);
  expect((await s3.open()).entries.length).toBe(3);
  expect(s3.recovery.tornBytes).toBe(5000);
  await s3.close();
});

test("a damaged record before the tail refuses to open, naming the file and byte offset", async () => {
  const dir = await filled("mid-corrupt", 6);
  const [file] = logFiles(dir);
  const buf = readFileSync(file);
  buf[2 * RECORD + 20] ^= 0x01; // inside record 3's payload
  writeFileSync(file, buf);
  await expectCorrupt(dir, file, 2 * RECORD);
  const damagedHeader = await filled("mid-header", 6);
  const [f2] = logFiles(damagedHeader);
  const b2 = readFileSync(f2);
  b2.writeUInt32LE(0, RECORD); // record 2's length zeroed
  writeFileSync(f2, b2);
  await expectCorrupt(damagedHeader, f2, RECORD);
});

test("a torn tail in a segment that is not the newest refuses to open", async () => {
  const dir = await filled("old-seg", 20, { segmentBytes: 4 * RECORD });
  const files = logFiles(dir);
  expect(files.length).toBe(5);
  truncateSync(files[1], 4 * RECORD - 1);
  await expectCorrupt(dir, files[1], 3 * RECORD);
});

test("segments roll at the size limit and covered ones are deleted after a snapshot", async () => {
  const dir = await filled("roll", 20, { segmentBytes: 4 * RECORD });
  expect(logFiles(dir).map((f) => basename(f))).toEqual([1, 5, 9, 13, 17].map((i) => String(i).padStart(20, "0") + ".log"));
  const s = fileStorage(dir, { segmentBytes: 4 * RECORD });
  await s.open();
  await s.saveSnapshot({ meta: { index: 10, term: 1, conf }, data: new Uint8Array([1]) });
  expect(logFiles(dir).length).toBe(3); // 9..12 still holds 11 and 12
  await s.append(makeEntries(11, 11, 2, 40)); // conflict: cuts 11.. including whole later segments
  expect(logFiles(dir).length).toBe(1);
  await s.close();
  const again = fileStorage(dir, { segmentBytes: 4 * RECORD });
  const initial = await again.open();
  expect(initial.entries).toEqual(makeEntries(11, 11, 2, 40));
  await again.close();
});

test("a crash between writing a snapshot and dropping segments recovers like the finished call", async () => {
  for (const [term, want] of [[1, makeEntries(9, 12, 1, 40)], [7, []]] as const) {
    const dir = await filled(`snap-crash-${term}`, 12, { segmentBytes: 4 * RECORD }, true);
    const saved = new Map(logFiles(dir).map((f) => [f, readFileSync(f)]));
    const s = fileStorage(dir, { segmentBytes: 4 * RECORD });
    await s.open();
    await s.saveSnapshot({ meta: { index: 8, term, conf }, data: new Uint8Array([2]) });
    await s.close();
    for (const [f, b] of saved) writeFileSync(f, b); // the unlinks never happened
    const again = fileStorage(dir);
    const initial = await again.open();
    expect(initial.snapshot?.meta.index).toBe(8);
    expect(initial.entries).toEqual([...want]);
    expect(await again.firstIndex()).toBe(9);
    await again.close();
  }
});

test("hard state is replaced atomically: a leftover temp file is ignored, a damaged file refuses", async () => {
  const dir = await filled("hard", 2);
  writeFileSync(join(dir, "hardstate.tmp"), new Uint8Array([1, 2, 3])); // a crash mid-write of a new one
  const s = fileStorage(dir);
  expect((await s.open()).hardState).toEqual({ term: 1, vote: 1, commit: 2 });
  expect(readdirSync(dir)).not.toContain("hardstate.tmp");
  await s.close();
  const path = join(dir, "hardstate");
  const b = readFileSync(path);
  b[b.length - 1] ^= 0xff;
  writeFileSync(path, b);
  await expectCorrupt(dir, path, 0);
});

test("concurrent appends share one write and one fdatasync (group commit)", async () => {
  const dir = join(root, "group");
  const s = fileStorage(dir);
  await s.open();
  const all = makeEntries(1, 64, 1);
  await Promise.all(all.map((e) => s.append([e])));
  expect(s.stats.appends).toBe(64);
  expect(s.stats.datasyncs).toBe(1); // calls made in one tick share a single write and fdatasync
  expect(await s.entries(1, 65)).toEqual(all);
  await s.close();
  const again = fileStorage(dir);
  expect((await again.open()).entries).toEqual(all);
  await again.close();
});

test("after an I/O error the storage refuses further calls until reopened", async () => {
  const dir = join(root, "ioerr");
  const s = fileStorage(dir, { segmentBytes: 100 });
  await s.open();
  await s.append(makeEntries(1, 1, 1, 40));
  rmSync(dir, { recursive: true, force: true });
  await expect(s.append(makeEntries(2, 3, 1, 40))).rejects.toMatchObject({ code: "Unavailable" });
  await expect(s.lastIndex()).rejects.toMatchObject({ code: "Unavailable" });
  await s.close();
});

test("calls before open() are refused with Unavailable", async () => {
  const s = fileStorage(join(root, "unopened"));
  await expect(s.append(makeEntries(1, 1, 1))).rejects.toMatchObject({ code: "Unavailable" });
});

test("open creates missing parent directories", async () => {
  const dir = join(root, "a", "b", "c");
  const s = fileStorage(dir);
  await s.open();
  await s.append(makeEntries(1, 1, 1));
  await s.close();
  expect(readdirSync(dir)).toContain("00000000000000000001.log");
});

// ---- the data-directory lock ----

test("a data directory is locked while open: another process is refused, a dead owner's lock is taken over", async () => {
  const { spawn } = await import("node:child_process");
  const dir = join(root, `lock${n++}`);
  const mine = fileStorage(dir);
  await mine.open();
  expect(readFileSync(join(dir, "LOCK"), "utf8").trim()).toBe(String(process.pid));
  await mine.close();
  expect(readdirSync(dir)).not.toContain("LOCK");

  const child = spawn(process.execPath, [join(import.meta.dir, "lock-holder.ts"), dir], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((r) => child.once("exit", r));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the lock holder did not open within 20 s")), 20_000);
      child.stdout!.on("data", (d) => { if (String(d).includes("open")) { clearTimeout(timer); resolve(); } });
    });
    let err: unknown;
    await fileStorage(dir).open().catch((e) => (err = e));
    expect(isStreamBusError(err, "Unavailable")).toBe(true);
    expect((err as StreamBusError).message).toContain(`in use by process ${child.pid}`);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
  // Its owner died without closing: the lock is stale and taken over.
  expect(readFileSync(join(dir, "LOCK"), "utf8").trim()).toBe(String(child.pid));
  const after = fileStorage(dir);
  await after.open();
  expect(readFileSync(join(dir, "LOCK"), "utf8").trim()).toBe(String(process.pid));
  await after.close();

  // A lock file that names no process (garbage) is stale too.
  writeFileSync(join(dir, "LOCK"), "not a pid\n");
  const again = fileStorage(dir);
  await again.open();
  await again.close();
});

test("processes racing for one data directory, also over a dead owner's lock: exactly one gets it", async () => {
  const { spawn } = await import("node:child_process");
  for (const stale of [false, true]) {
    const dir = join(root, `race${n++}`);
    if (stale) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "LOCK"), "999999999\n"); // no such process
    }
    const kids = Array.from({ length: 4 }, () => spawn(process.execPath, [join(import.meta.dir, "lock-holder.ts"), dir], { stdio: ["ignore", "pipe", "pipe"] }));
    try {
      // Each child either prints "open" (and holds the lock) or exits refused.
      const outcomes = await Promise.all(kids.map((k) => new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("a lock contender neither opened nor exited within 20 s")), 20_000);
        k.stdout!.on("data", (d) => { if (String(d).includes("open")) { clearTimeout(timer); resolve("open"); } });
        k.once("exit", (code) => { clearTimeout(timer); resolve(`exit ${code}`); });
      })));
      expect(outcomes.filter((o) => o === "open").length).toBe(1);
      expect(outcomes.filter((o) => o !== "open").every((o) => o !== "exit 0")).toBe(true);
    } finally {
      for (const k of kids) k.kill("SIGKILL");
    }
  }
});

test("a large snapshot survives a reopen byte for byte; a flipped byte in its file refuses to open", async () => {
  const dir = await filled("big-snap", 12);
  const data = Uint8Array.from({ length: 300_001 }, (_, i) => (i * 7919) & 0xff); // long enough for the word-loop CRC
  const s = fileStorage(dir);
  await s.open();
  await s.saveSnapshot({ meta: { index: 10, term: 1, conf }, data });
  data[0] ^= 0xff; // the caller's buffer changes later: the storage kept its own copy
  expect((await s.snapshot())!.data[0]).toBe(0);
  await s.close();
  const again = fileStorage(dir);
  const initial = await again.open();
  expect(initial.snapshot!.meta).toEqual({ index: 10, term: 1, conf });
  data[0] ^= 0xff;
  expect(initial.snapshot!.data).toEqual(data);
  await again.close();
  const file = join(dir, "snapshot");
  const bytes = readFileSync(file);
  bytes[bytes.length - 1000] ^= 0x01;
  writeFileSync(file, bytes);
  const damaged = fileStorage(dir);
  let code: string | undefined;
  try {
    await damaged.open();
  } catch (e) {
    code = (e as StreamBusError).code;
  }
  expect(code).toBe("Corrupt");
});

test("the cluster file: a damaged record or a text that is no cluster id makes open fail with Corrupt", async () => {
  const dir = await filled("cluster-file", 3);
  const s = fileStorage(dir);
  await s.open();
  await s.setClusterId("0123456789abcdef");
  await s.close();
  const file = join(dir, "cluster");
  const good = readFileSync(file);
  const reopened = fileStorage(dir);
  expect((await reopened.open()).clusterId).toBe("0123456789abcdef");
  await reopened.close();
  const flipped = Uint8Array.from(good);
  flipped[flipped.length - 1]! ^= 1;
  writeFileSync(file, flipped);
  await expectCorrupt(dir, file, 0);
  writeFileSync(file, frameRecord(new TextEncoder().encode("spaces are not allowed")));
  const err = await fileStorage(dir).open().then(() => undefined, (e) => e);
  expect(isStreamBusError(err, "Corrupt")).toBe(true);
  expect((err as StreamBusError).message).toContain("is not a cluster id");
});
