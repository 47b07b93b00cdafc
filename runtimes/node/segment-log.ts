/**
 * The file storage's on-disk log: segment files of framed CBOR entry records, and recovery of the whole
 * data directory (hard state, snapshot, segments) at open.
 */
import { mkdir, open, readdir, readFile, stat, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Encoder } from "cbor-x";
import { encodeTuple } from "../../src/codec/cbor-tuple.ts";
import { StreamBusError } from "../../src/errors.ts";
import { storedClusterId } from "../../src/raft/cluster-id.ts";
import type { Entry, HardState, Snapshot } from "../../src/raft/types.ts";
import { frameRecord, removeFile, scanRecords, singleRecord, syncDir } from "./record-file.ts";

export const cbor = new Encoder({ useRecords: false });
/** The file holding the node's cluster id: one record of its UTF-8 text. */
export const CLUSTER_ID_FILE = "cluster";
const SEGMENT_NAME = /^(\d{20})\.log$/;

/** One log segment file. */
export interface Segment {
  /** Index of the first entry the file holds (its name). */
  first: number;
  path: string;
  /** Bytes of records once every queued write has landed. */
  size: number;
  /**
   * The file's length as the disk writer left it: its records, then zeros written ahead of them (see
   * ZERO_AHEAD_BYTES in file-storage.ts). Only the writer and recovery touch it.
   */
  allocated: number;
  /** Created by a queued write and not on disk yet: the writer creates it and syncs the directory. */
  fresh: boolean;
  handle?: FileHandle;
}

export function segmentPath(dir: string, first: number): string {
  return join(dir, String(first).padStart(20, "0") + ".log");
}

/**
 * A hard state whose term and vote equal the durable ones (only the commit index moved) is appended to the
 * newest segment as a record ["hs", seq, term, vote, commit] instead of replacing the hardstate file, and
 * without an fdatasync of its own: the next append's fdatasync covers it. This is etcd's rule (its WAL
 * only syncs a hard state when term or vote changed): a commit index lost in a crash is learned again
 * from the leader, while term and vote, which Raft's safety rests on, are always fsynced (in the file).
 * `seq` orders records against the file; the highest wins at recovery.
 */
export function encodeHardRecord(seq: number, h: HardState): Uint8Array {
  return frameRecord(cbor.encode(["hs", seq, h.term, h.vote, h.commit]));
}

/** One framed record holding `e`. */
export function encodeEntry(e: Entry): Uint8Array {
  const type = e.type === "confChange" ? 1 : 0;
  return frameRecord(encodeTuple([e.index, e.term, type], e.data, cbor));
}

function decodeEntry(payload: Uint8Array, file: string, offset: number): Entry | { hs: HardState; seq: number } {
  const v = cbor.decode(payload) as unknown;
  if (Array.isArray(v) && v.length === 5 && v[0] === "hs" && v.slice(1).every((x) => Number.isSafeInteger(x) && x >= 0)) {
    return { seq: v[1], hs: { term: v[2], vote: v[3], commit: v[4] } };
  }
  if (!Array.isArray(v) || v.length !== 4 || !(v[3] instanceof Uint8Array) || typeof v[0] !== "number" || typeof v[1] !== "number") {
    throw new StreamBusError("Corrupt", `${file}: record at byte offset ${offset} is not a log entry`, { file, offset });
  }
  // Copy: the decoded bytes are a view into the whole segment's buffer.
  return { index: v[0], term: v[1], type: v[2] === 1 ? "confChange" : "normal", data: new Uint8Array(v[3]) };
}

/** How many leading segments hold only entries <= index (so a snapshot at index covers them). */
export function coveredSegmentCount(segments: Segment[], lastIndex: number, index: number): number {
  let n = 0;
  while (n < segments.length) {
    const next = segments[n + 1];
    if ((next ? next.first - 1 : lastIndex) > index) break;
    n++;
  }
  return n;
}

/** Deletes segment files durably, newest first: a crash part-way leaves a prefix of the log, never a gap. */
export async function dropSegments(dir: string, drop: Segment[]): Promise<void> {
  if (drop.length === 0) return;
  for (const seg of [...drop].reverse()) {
    await seg.handle?.close();
    seg.handle = undefined;
    await removeFile(seg.path);
  }
  await syncDir(dir);
}

/** Creates `dir` and any missing parents, and syncs each new directory's parent so the names survive a crash. */
async function makeDirDurably(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); !(await stat(d).then(() => true, () => false)); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  if (missing.length === 0) return;
  await mkdir(dir, { recursive: true });
  for (const d of missing.reverse()) await syncDir(dirname(d));
}

/** Everything open() finds in a data directory. */
export interface RecoveredLog {
  hard: HardState;
  snap?: Snapshot;
  first: number;
  log: Entry[];
  /** Where each entry of `log` sits on disk. */
  posSeg: Segment[];
  posOff: number[];
  segments: Segment[];
  /** Bytes of a torn tail cut off the newest segment, if any. */
  recovery: { tornBytes: number; file?: string };
  /** Sequence number of the newest hard state (file or log record). */
  hardSeq: number;
  /** Whether that newest hard state is a log record (not the hardstate file). */
  hardInLog: boolean;
  /** The cluster id file's contents, if it exists. */
  clusterId?: string;
}

/**
 * Reads `dir` (creating it if missing): removes leftover temp files, cuts a torn tail off the newest
 * segment, checks that the log is contiguous, and applies the snapshot's rule again so a crash between
 * writing a snapshot and deleting the segments it covers is harmless. Throws Corrupt on damage.
 */
export async function recoverLog(dir: string): Promise<RecoveredLog> {
  const r: RecoveredLog = {
    hard: { term: 0, vote: 0, commit: 0 },
    first: 1,
    log: [],
    posSeg: [],
    posOff: [],
    segments: [],
    recovery: { tornBytes: 0 },
    hardSeq: 0,
    hardInLog: false,
  };
  try {
    await makeDirDurably(dir);
    const names = (await readdir(dir)).sort();
    for (const n of names) if (n.endsWith(".tmp")) await removeFile(join(dir, n));
    if (names.includes("hardstate")) {
      const path = join(dir, "hardstate");
      const h = cbor.decode(singleRecord(await readFile(path), path)) as HardState & { seq?: number };
      r.hard = { term: h.term, vote: h.vote, commit: h.commit };
      r.hardSeq = h.seq ?? 0;
    }
    if (names.includes(CLUSTER_ID_FILE)) {
      const path = join(dir, CLUSTER_ID_FILE);
      r.clusterId = storedClusterId(new TextDecoder().decode(singleRecord(await readFile(path), path)), path, { file: path });
    }
    if (names.includes("snapshot")) {
      const path = join(dir, "snapshot");
      const s = cbor.decode(singleRecord(await readFile(path), path)) as Snapshot;
      r.snap = { meta: s.meta, data: new Uint8Array(s.data) };
    }
    const segNames = names.filter((n) => SEGMENT_NAME.test(n));
    for (let i = 0; i < segNames.length; i++) await loadSegment(r, join(dir, segNames[i]), i === segNames.length - 1);
    await applySnapshot(r, dir);
    return r;
  } catch (e) {
    await Promise.all(r.segments.map((s) => s.handle?.close().catch(() => {})));
    throw e;
  }
}

async function loadSegment(r: RecoveredLog, path: string, newest: boolean): Promise<void> {
  const first = Number(SEGMENT_NAME.exec(path.slice(path.length - 24))![1]);
  const buf = await readFile(path);
  const { records, validBytes, zeroTail } = scanRecords(buf, path, newest);
  const seg: Segment = { first, path, size: validBytes, allocated: buf.length, fresh: false };
  r.segments.push(seg);
  if (validBytes < buf.length && !zeroTail) {
    // A write that was never acknowledged (its fdatasync never returned): cut it off so appends continue
    // from intact data.
    r.recovery = { tornBytes: buf.length - validBytes, file: path };
    seg.handle = await open(path, "r+");
    await seg.handle.truncate(validBytes);
    await seg.handle.datasync();
    seg.allocated = validBytes;
  }
  const last = r.first + r.log.length - 1;
  if (r.log.length > 0 && first !== last + 1) {
    throw new StreamBusError("Corrupt", `${path}: segment starts at index ${first}, expected ${last + 1}`, { file: path, offset: 0 });
  }
  if (r.log.length === 0) r.first = first;
  let expected = first;
  for (const rec of records) {
    const e = decodeEntry(rec.payload, path, rec.offset);
    if ("hs" in e) {
      if (e.seq > r.hardSeq) {
        r.hard = e.hs;
        r.hardSeq = e.seq;
        r.hardInLog = true;
      }
      continue;
    }
    if (e.index !== expected) {
      const offset = rec.offset;
      throw new StreamBusError("Corrupt", `${path}: record at byte offset ${offset} holds index ${e.index}, expected ${expected}`, { file: path, offset });
    }
    expected++;
    r.log.push(e);
    r.posSeg.push(seg);
    r.posOff.push(rec.offset);
  }
}

/** saveSnapshot's rule: keep the entries after the snapshot if the log matches it there, else none. */
async function applySnapshot(r: RecoveredLog, dir: string): Promise<void> {
  if (r.log.length === 0) r.first = 1;
  if (!r.snap) {
    if (r.log.length > 0 && r.first !== 1) {
      throw new StreamBusError("Corrupt", `${dir}: the log starts at index ${r.first} but there is no snapshot`);
    }
    return;
  }
  const { index, term } = r.snap.meta;
  const f = r.first;
  if (r.log.length > 0 && f > index + 1) {
    throw new StreamBusError("Corrupt", `${dir}: the log starts at index ${f}, leaving a gap after the snapshot at ${index}`);
  }
  const keep = r.log.length > 0 && (f === index + 1 || r.log[index - f]?.term === term);
  const k = keep ? index + 1 - f : r.log.length;
  r.log = r.log.slice(k);
  r.posSeg = r.posSeg.slice(k);
  r.posOff = r.posOff.slice(k);
  r.first = index + 1;
  const n = keep ? coveredSegmentCount(r.segments, r.first + r.log.length - 1, index) : r.segments.length;
  await dropSegments(dir, r.segments.splice(0, n));
}
