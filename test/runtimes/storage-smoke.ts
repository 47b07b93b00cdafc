// Shared body of the Deno and Node smoke checks: write, reopen, verify, torn-tail recovery. Plain code (no
// bun:test) so it runs under any runtime; throws on the first failure.
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileStorage } from "../../runtimes/node/file-storage.ts";
import type { Entry } from "../../src/raft/types.ts";
import { trimToRecords } from "./segment-files.ts";

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error("storage smoke check failed: " + what);
}

function entry(index: number, term: number): Entry {
  return { index, term, type: index % 10 === 0 ? "confChange" : "normal", data: new Uint8Array(64 + (index % 50)).fill(index & 0xff) };
}

function same(a: Entry, b: Entry): boolean {
  return a.index === b.index && a.term === b.term && a.type === b.type && a.data.length === b.data.length && a.data.every((x, i) => x === b.data[i]);
}

/** Runs the smoke check in a temporary directory; resolves with a one-line summary. */
export async function storageSmoke(runtime: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `streambus-${runtime}-`));
  try {
    const opts = { segmentBytes: 4096 };
    const s = fileStorage(dir, opts);
    const init = await s.open();
    check(init.entries.length === 0 && init.hardState.term === 0, "fresh storage is empty");
    for (let i = 1; i <= 200; i += 8) await s.append(Array.from({ length: 8 }, (_, k) => entry(i + k, 1)));
    await s.append([entry(150, 2), entry(151, 2)]); // overwrite the suffix
    await s.setHardState({ term: 2, vote: 1, commit: 120 });
    await s.saveSnapshot({ meta: { index: 100, term: 1, conf: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: true } }, data: new Uint8Array([1, 2, 3]) });
    await s.close();

    const r = fileStorage(dir, opts);
    const back = await r.open();
    check(back.hardState.term === 2 && back.hardState.commit === 120, "hard state survives");
    check(back.snapshot?.meta.index === 100 && back.snapshot.data.length === 3, "snapshot survives");
    check(back.entries.length === 51 && back.entries[0].index === 101, `entries 101..151 survive (got ${back.entries.length})`);
    for (const e of back.entries) check(same(e, entry(e.index, e.index >= 150 ? 2 : 1)), `entry ${e.index} intact`);
    await r.close();

    const newest = readdirSync(dir).filter((f) => f.endsWith(".log")).sort().at(-1)!;
    trimToRecords(join(dir, newest)); // the zeros written ahead, so the torn write follows the last record
    appendFileSync(join(dir, newest), new Uint8Array([40, 0, 0, 0, 1, 2, 3])); // a torn write
    const t = fileStorage(dir, opts);
    const torn = await t.open();
    check(torn.entries.length === 51 && t.recovery.tornBytes === 7, "torn tail is cut off");
    await t.append([entry(152, 2)]);
    await t.close();
    const u = fileStorage(dir, opts);
    check((await u.open()).entries.length === 52, "append after recovery survives");
    await u.close();
    return `${runtime}: file storage smoke check passed (${back.entries.length} entries, snapshot, torn tail)`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
