/**
 * An exclusive lock on a data directory: a LOCK file holding the owner's process id, created with O_EXCL.
 * Two processes appending to one directory would interleave their records and corrupt both logs, so the
 * second one refuses to open with a clear error instead. A lock left behind by a process that died
 * (kill -9, a crash, a power loss) names a process id that no longer runs, and is taken over.
 * The lock guards against other processes only: the owning process may reopen its own directory.
 */
import { mkdir, open, readFile, unlink } from "node:fs/promises";
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

/** Takes the lock on `dir` (creating the directory); resolves with its release. */
export async function lockDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, "wx");
      await fh.writeFile(`${process.pid}\n`);
      await fh.sync();
      await fh.close();
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
      await unlink(path).catch(() => {}); // stale: its owner is gone
    }
  }
  return async () => {
    if ((await holder(path)) === process.pid) await unlink(path).catch(() => {});
  };
}
