/**
 * An exclusive lock on a data directory: a LOCK file holding the owner's process id, created with O_EXCL.
 * Two processes appending to one directory would interleave their records and corrupt both logs, so the
 * second one refuses to open with a clear error instead. A lock left behind by a process that died
 * (kill -9, a crash, a power loss) names a process id that no longer runs, and is taken over.
 * The lock guards against other processes only: the owning process may reopen its own directory.
 *
 * The file appears with its content already in it (written to a temporary file, then hard-linked into
 * place, which fails if LOCK exists), so no process ever reads an empty LOCK and takes it for stale.
 * What remains open without OS file locks (node:fs has none): two processes taking over the same stale
 * lock in the same few microseconds. Each re-reads it just before removing it, which leaves that window.
 */
import { link, mkdir, open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { StreamBusError } from "../../src/errors.ts";

const LOCK_FILE = "LOCK";

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM"; // it runs, under another user
  }
}

async function holder(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // gone meanwhile, or unreadable: treated as stale
  }
}

/** Creates `path` holding `content`, atomically; fails with EEXIST when `path` exists. */
async function createWith(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Takes the lock on `dir` (creating the directory); resolves with its release. */
export async function lockDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      await createWith(path, `${process.pid}\n`);
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
      const pid = await holder(path);
      if (pid === process.pid) break;
      if (pid !== undefined && running(pid)) {
        throw new StreamBusError(
          "Unavailable",
          `data directory ${dir} is in use by process ${pid} (see ${path}): two nodes must never share a data directory`,
          { dir, pid },
        );
      }
      if (attempt >= 2) throw new StreamBusError("Unavailable", `could not take the lock ${path}`, { dir });
      // Stale: its owner is gone. Removed only if it still names that owner (another process may have
      // taken it over meanwhile).
      if ((await holder(path)) === pid) await unlink(path).catch(() => {});
    }
  }
  return async () => {
    if ((await holder(path)) === process.pid) await unlink(path).catch(() => {});
  };
}
