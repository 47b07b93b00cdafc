// Child process for the crash test: appends forever to the file storage in argv[2], sometimes overwriting
// the last entries with a newer term or saving a snapshot. Before each call it prints what it is about to
// do ("begin <from> <to> <term>", "snap <index>"), and "ack" once the call resolved. The parent SIGKILLs it.
import { fileStorage } from "../../runtimes/node/file-storage.ts";
import { crashEntryData } from "./crash-data.ts";

const dir = process.argv[2];
const storage = fileStorage(dir, { segmentBytes: Number(process.argv[3] ?? 1 << 20) });
const initial = await storage.open();
let last = await storage.lastIndex();
let term = Math.max(initial.hardState.term, initial.entries.at(-1)?.term ?? 0) + 1;
const conf = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: true };
const say = (line: string) => process.stdout.write(line + "\n");
say(`start ${last}`);
for (let round = 1; ; round++) {
  if (round % 25 === 0 && last > 10) {
    const index = last - 5;
    say(`snap ${index}`);
    await storage.saveSnapshot({ meta: { index, term: (await storage.term(index))!, conf }, data: new Uint8Array([round & 0xff]) });
    say("ack");
    continue;
  }
  // Every 10th round overwrites the last few entries with a newer term, as a new leader would.
  const first = await storage.firstIndex();
  const from = round % 10 === 0 && last - 2 >= first ? last - 2 : last + 1;
  if (from <= last) term++;
  const to = from + (round % 7);
  const entries = [];
  for (let i = from; i <= to; i++) entries.push({ index: i, term, type: "normal" as const, data: crashEntryData(i, term) });
  say(`begin ${from} ${to} ${term}`);
  await storage.append(entries);
  if (round % 5 === 0) await storage.setHardState({ term, vote: 1, commit: from - 1 });
  last = to;
  say("ack");
}
