// The file storage's hard state: term/vote changes replace the fsynced hardstate file; commit-only changes
// are records in the log written without an fdatasync of their own (etcd's rule). These tests check that
// the newest hard state survives a reopen through every path that rewrites or deletes log bytes.
import { afterAll, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileStorage } from "../../runtimes/node/file-storage.ts";
import type { ConfState } from "../../src/raft/types.ts";
import { makeEntries } from "../../src/testing/conformance/storage.ts";
import { trimToRecords } from "./segment-files.ts";

const conf: ConfState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const root = mkdtempSync(join(tmpdir(), "streambus-hs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${n++}`);

test("a commit-only change is a log record without its own fdatasync; the hardstate file is untouched", async () => {
  const dir = freshDir();
  const s = fileStorage(dir);
  await s.open();
  await s.append(makeEntries(1, 10, 1));
  await s.setHardState({ term: 1, vote: 1, commit: 0 });
  const file = readFileSync(join(dir, "hardstate"));
  const syncs = s.stats.datasyncs;
  await s.setHardState({ term: 1, vote: 1, commit: 7 });
  expect(s.stats.datasyncs).toBe(syncs);
  expect(readFileSync(join(dir, "hardstate"))).toEqual(file);
  // A process crash (no close) keeps the page cache: a new instance sees the record.
  const again = fileStorage(dir);
  expect((await again.open()).hardState).toEqual({ term: 1, vote: 1, commit: 7 });
  await again.close();
  await s.close();
});

test("entries and a commit-only hard state issued together share one write and one fdatasync", async () => {
  const dir = freshDir();
  const s = fileStorage(dir);
  await s.open();
  await s.append(makeEntries(1, 2, 1));
  await s.setHardState({ term: 1, vote: 1, commit: 0 });
  const syncs = s.stats.datasyncs;
  await Promise.all([s.append(makeEntries(3, 5, 1)), s.setHardState({ term: 1, vote: 1, commit: 4 })]);
  expect(s.stats.datasyncs).toBe(syncs + 1);
  await s.close();
  const again = fileStorage(dir);
  const init = await again.open();
  expect(init.hardState).toEqual({ term: 1, vote: 1, commit: 4 });
  expect(init.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
  await again.close();
});

test("a term or vote change replaces the file, and wins over older log records", async () => {
  const dir = freshDir();
  const s = fileStorage(dir);
  await s.open();
  await s.append(makeEntries(1, 5, 1));
  await s.setHardState({ term: 1, vote: 1, commit: 3 });
  await s.setHardState({ term: 1, vote: 1, commit: 5 }); // record
  await s.setHardState({ term: 2, vote: 0, commit: 5 }); // file
  await s.close();
  const again = fileStorage(dir);
  expect((await again.open()).hardState).toEqual({ term: 2, vote: 0, commit: 5 });
  await again.setHardState({ term: 2, vote: 3, commit: 5 });
  await again.close();
  const third = fileStorage(dir);
  expect((await third.open()).hardState).toEqual({ term: 2, vote: 3, commit: 5 });
  await third.close();
});

test("cutting the log after a hard state record writes the record again", async () => {
  for (const how of ["append", "truncateSuffix"] as const) {
    const dir = freshDir();
    const s = fileStorage(dir, { segmentBytes: 300 });
    await s.open();
    await s.setHardState({ term: 1, vote: 1, commit: 0 });
    await s.append(makeEntries(1, 8, 1));
    await s.setHardState({ term: 1, vote: 1, commit: 4 }); // record after entry 8
    if (how === "append") await s.append(makeEntries(6, 9, 1)); // cuts entries 6.. and the record
    else await s.truncateSuffix(6);
    await s.close();
    const again = fileStorage(dir, { segmentBytes: 300 });
    const init = await again.open();
    expect(init.hardState).toEqual({ term: 1, vote: 1, commit: 4 });
    expect(init.entries.at(-1)!.index).toBe(how === "append" ? 9 : 5);
    await again.close();
  }
});

test("a snapshot or compaction that deletes the segment holding the newest record keeps the hard state", async () => {
  for (const how of ["snapshot-mismatch", "compact"] as const) {
    const dir = freshDir();
    const s = fileStorage(dir, { segmentBytes: 200 });
    await s.open();
    await s.setHardState({ term: 1, vote: 1, commit: 0 });
    await s.append(makeEntries(1, 6, 1, 40));
    await s.setHardState({ term: 1, vote: 1, commit: 6 });
    await s.append(makeEntries(7, 12, 1, 40));
    if (how === "compact") {
      await s.saveSnapshot({ meta: { index: 10, term: 1, conf }, data: new Uint8Array([1]) });
      await s.compact(11);
    } else {
      // A snapshot whose term does not match drops every segment.
      await s.saveSnapshot({ meta: { index: 12, term: 2, conf }, data: new Uint8Array([2]) });
    }
    await s.close();
    const again = fileStorage(dir, { segmentBytes: 200 });
    expect((await again.open()).hardState).toEqual({ term: 1, vote: 1, commit: 6 });
    await again.close();
  }
});

test("a torn hard state record at the tail is cut off; the previous hard state stands", async () => {
  const dir = freshDir();
  const s = fileStorage(dir);
  await s.open();
  await s.append(makeEntries(1, 3, 1));
  await s.setHardState({ term: 1, vote: 1, commit: 2 });
  await s.close();
  const seg = readdirSync(dir).find((f) => f.endsWith(".log"))!;
  trimToRecords(join(dir, seg));
  appendFileSync(join(dir, seg), new Uint8Array([9, 0, 0, 0, 1, 2, 3])); // half a record
  const again = fileStorage(dir);
  const init = await again.open();
  expect(init.hardState).toEqual({ term: 1, vote: 1, commit: 2 });
  expect(again.recovery.tornBytes).toBe(7);
  await again.close();
});
