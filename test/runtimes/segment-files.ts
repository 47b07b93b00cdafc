// Test helper for the file storage's segment files.
import { readFileSync, truncateSync } from "node:fs";
import { scanRecords } from "../../runtimes/node/record-file.ts";

/** Cuts the zeros written ahead off a segment, so it ends at its last record (as files did before them). */
export function trimToRecords(file: string): void {
  truncateSync(file, scanRecords(readFileSync(file), file, true).validBytes);
}
