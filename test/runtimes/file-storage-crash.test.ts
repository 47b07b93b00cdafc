// Crash test: a child process appends (and overwrites, and snapshots) in a loop; SIGKILL lands mid-work;
// reopening must show every acknowledged entry intact. Repeated on the same directory, so recovery after
// a kill is itself followed by more work and another kill.
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileStorage } from "../../runtimes/node/file-storage.ts";
import { crashEntryData } from "./crash-data.ts";

const root = mkdtempSync(join(tmpdir(), "streambus-crash-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What the writer had acknowledged when it died, and what it was doing. */
interface Acked {
  terms: Map<number, number>; // index -> term of every acknowledged entry
  last: number;
  snapIndex: number;
  inflight?: { from: number; term: number };
}

/** Runs the writer until it has acknowledged `acks` more calls, then SIGKILLs it. */
function runAndKill(dir: string, acks: number, state: Acked): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(import.meta.dir, "crash-writer.ts"), dir, String(256 << 10)], { stdio: ["ignore", "pipe", "pipe"] });
    let seen = 0, buf = "", err = "", pending: string[] | undefined;
    const deadline = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`writer stalled after ${seen} acks: ${err}`)); }, 60_000);
    child.stderr.on("data", (d) => (err += d));
    child.stdout.on("data", (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const words = buf.slice(0, nl).split(" ");
        buf = buf.slice(nl + 1);
        if (words[0] === "begin" || words[0] === "snap") {
          pending = words;
          if (words[0] === "begin") state.inflight = { from: Number(words[1]), term: Number(words[3]) };
        } else if (words[0] === "ack" && pending) {
          if (pending[0] === "begin") {
            const [from, to, term] = pending.slice(1).map(Number);
            for (let i = from; i <= to; i++) state.terms.set(i, term);
            for (let i = to + 1; i <= state.last; i++) state.terms.delete(i);
            state.last = to;
          } else state.snapIndex = Number(pending[1]);
          state.inflight = undefined;
          pending = undefined;
          if (++seen === acks) child.kill("SIGKILL");
        }
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(deadline);
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`writer exited with ${code}: ${err}`));
    });
  });
}

test("SIGKILL while appending, overwriting and snapshotting loses nothing acknowledged", async () => {
  const dir = join(root, "log");
  const state: Acked = { terms: new Map(), last: 0, snapIndex: 0 };
  let torn = 0;
  for (const acks of [40, 75, 23, 110, 1, 60]) {
    await runAndKill(dir, acks, state);
    const s = fileStorage(dir);
    const initial = await s.open();
    if (s.recovery.tornBytes) torn++;
    const snapIndex = initial.snapshot?.meta.index ?? 0;
    expect(snapIndex).toBeGreaterThanOrEqual(state.snapIndex);
    // An overwrite in flight may already have cut the entries it replaces (Raft never needs them again).
    const overwriting = state.inflight && state.inflight.from <= state.last;
    expect(await s.lastIndex()).toBeGreaterThanOrEqual(overwriting ? state.inflight!.from - 1 : state.last);
    expect(initial.entries[0]?.index ?? snapIndex + 1).toBe(snapIndex + 1);
    for (const e of initial.entries) {
      const ackedTerm = state.terms.get(e.index);
      // An entry is either as acknowledged, or written by the call in flight when the kill came.
      const fromInflight = state.inflight && e.index >= state.inflight.from && e.term === state.inflight.term;
      if (!fromInflight && ackedTerm !== e.term) throw new Error(`entry ${e.index} has term ${e.term}, acknowledged ${ackedTerm}`);
      const want = crashEntryData(e.index, e.term);
      if (e.data.length !== want.length || !e.data.every((b, i) => b === want[i])) throw new Error(`entry ${e.index} is damaged`);
    }
    // Whatever survived is now the truth for the next round.
    state.terms = new Map(initial.entries.map((e) => [e.index, e.term]));
    state.last = await s.lastIndex();
    state.snapIndex = snapIndex;
    state.inflight = undefined;
    await s.close();
  }
  console.log(`crash test: ${state.last} entries, snapshot at ${state.snapIndex}; ${torn} of 6 restarts cut a torn tail`);
}, 120_000);
