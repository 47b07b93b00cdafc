/**
 * Record framing for the file storage, and the atomic whole-file write. A record is
 *
 *   [u32 LE payload length][u32 LE CRC-32C of the payload][u32 LE CRC-32C of the first 8 bytes][payload]
 *
 * The header checks itself, so recovery can tell "a record starts here" from noise at any byte offset
 * cheaply, and a zero-filled tail never passes as a record. Segments are zero-filled ahead of their
 * records (file-storage.ts), so a tail of zeros after the last record is the expected end of a segment.
 */
import { open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32c } from "../../src/codec/crc32c.ts";
import { StreamBusError } from "../../src/errors.ts";

export const HEADER_BYTES = 12;
/** Largest payload accepted; a length above it in a header is treated as damage, not as a record. */
export const MAX_RECORD_BYTES = 512 << 20;

/** Frames the payload made of `parts` (one or more, in order) as one record, copying each part once. */
export function frameRecord(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  if (length > MAX_RECORD_BYTES) {
    throw new StreamBusError("TooLarge", `record of ${length} bytes exceeds ${MAX_RECORD_BYTES}`);
  }
  const out = new Uint8Array(HEADER_BYTES + length);
  let at = HEADER_BYTES;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  // Byte by byte rather than through a DataView: asking a small typed array for its .buffer is costly on
  // JavaScriptCore (Bun), and this runs for every log entry.
  putU32(out, 0, length);
  putU32(out, 4, crc32c(out, 0, HEADER_BYTES));
  putU32(out, 8, crc32c(out, 0, 0, 8));
  return out;
}

function putU32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff;
  buf[at + 1] = (v >>> 8) & 0xff;
  buf[at + 2] = (v >>> 16) & 0xff;
  buf[at + 3] = v >>> 24;
}

function u32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/** The payload length if a self-consistent header that fits in `buf` starts at `offset`, else -1. */
function headerAt(buf: Uint8Array, offset: number): number {
  if (offset + HEADER_BYTES > buf.length) return -1;
  const len = u32(buf, offset);
  // Cheap tests first: recovery probes every byte offset of a damaged tail.
  if (len === 0 || len > MAX_RECORD_BYTES || offset + HEADER_BYTES + len > buf.length) return -1;
  return crc32c(buf, 0, offset, offset + 8) === u32(buf, offset + 8) ? len : -1;
}

/** The payload of a valid record at `offset`, or undefined if the bytes there are not one. */
function recordAt(buf: Uint8Array, offset: number): Uint8Array | undefined {
  const len = headerAt(buf, offset);
  if (len < 0) return undefined;
  const payload = buf.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + len);
  return crc32c(payload) === u32(buf, offset + 4) ? payload : undefined;
}

/** Whether any intact record starts after `offset`: then the damage at `offset` is not a torn tail. */
function intactRecordAfter(buf: Uint8Array, offset: number): boolean {
  for (let at = offset + 1; at + HEADER_BYTES < buf.length; at++) {
    if (recordAt(buf, at)) return true;
  }
  return false;
}

export interface ScannedRecord {
  offset: number;
  payload: Uint8Array;
}

export interface ScanResult {
  records: ScannedRecord[];
  /** Bytes of valid records; less than the file's size past a torn tail or the zeros written ahead. */
  validBytes: number;
  /** Everything after validBytes is zeros: space written ahead of the records, nothing to repair. */
  zeroTail: boolean;
}

function allZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Reads every record of one segment. Zeros after the last record are space written ahead (any segment).
 * A bad record with no intact record anywhere after it is a torn write (a crash before its fdatasync
 * returned): when `tailAllowed` (the newest segment), scanning stops there and `validBytes` says where to
 * truncate. Anything else is damage to acknowledged data and throws Corrupt naming the file and byte
 * offset, because dropping it silently could lose committed entries. (A zeroed run of acknowledged records
 * at the end of an older segment passes here, but then the next segment does not continue its indexes,
 * which recovery refuses.)
 */
export function scanRecords(buf: Uint8Array, file: string, tailAllowed: boolean): ScanResult {
  const records: ScannedRecord[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const payload = recordAt(buf, offset);
    if (payload) {
      records.push({ offset, payload });
      offset += HEADER_BYTES + payload.length;
      continue;
    }
    if (allZero(buf, offset)) return { records, validBytes: offset, zeroTail: true };
    const isTail = !intactRecordAfter(buf, offset);
    if (isTail && tailAllowed) return { records, validBytes: offset, zeroTail: false };
    throw new StreamBusError(
      "Corrupt",
      `${file}: damaged record at byte offset ${offset}` +
        (isTail ? " at the end of a segment that is not the newest" : " with intact records after it") +
        "; the log cannot be trusted past it. Restore this node's data directory from a replica " +
        "(or remove it so the node rejoins and catches up from a snapshot).",
      { file, offset },
    );
  }
  return { records, validBytes: offset, zeroTail: true };
}

/**
 * Replaces `path` atomically and durably: write `path.tmp`, fsync it, rename over `path`, fsync the
 * directory. A crash leaves either the old or the new contents, never a mix.
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = path + ".tmp";
  const fh = await open(tmp, "w");
  try {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await fh.write(data, written, data.length - written, written);
      written += bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/** Makes creations, renames and unlinks in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the metadata change itself.
  if (process.platform === "win32") return;
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Removes a file, ignoring one that is already gone. */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw e;
  }
}

/** The payload of a single-record file (hard state, snapshot); throws Corrupt when it is damaged. */
export function singleRecord(buf: Uint8Array, file: string): Uint8Array {
  const { records, validBytes } = scanRecords(buf, file, true);
  if (records.length !== 1 || validBytes !== buf.length) {
    throw new StreamBusError(
      "Corrupt",
      `${file}: expected one intact record, found ${records.length} in ${buf.length} bytes (damaged at byte offset ${validBytes})`,
      { file, offset: validBytes },
    );
  }
  return records[0].payload;
}
