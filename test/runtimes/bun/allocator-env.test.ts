// The Bun node command re-executes itself once with mimalloc's purge delay set (runtimes/bun/allocator-env.ts):
// same pid, same arguments and runtime flags, and an explicit setting is left alone. (Not imported here:
// importing it re-executes the importing process.)
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const probe = join(mkdtempSync(join(tmpdir(), "sb-alloc-")), "probe.ts");
writeFileSync(probe, `import ${JSON.stringify(join(import.meta.dir, "../../../runtimes/bun/allocator-env.ts"))};
const { MIMALLOC_PURGE_DELAY, MIMALLOC_VERBOSE, ...rest } = process.env;
console.log(JSON.stringify({ pid: process.pid, delay: MIMALLOC_PURGE_DELAY, argv: process.argv.slice(2), execArgv: process.execArgv, keep: rest.SB_PROBE_KEEP }));
`);

function run(env: Record<string, string | undefined>, flags: string[] = []) {
  const { MIMALLOC_PURGE_DELAY: _, ...base } = process.env;
  const r = spawnSync(process.execPath, [...flags, probe, "--id", "7"], {
    env: { ...base, SB_PROBE_KEEP: "kept", MIMALLOC_VERBOSE: "1", ...env },
    encoding: "utf8",
  });
  expect(r.status).toBe(0);
  return { out: JSON.parse(r.stdout.trim().split("\n").at(-1)!), stderr: r.stderr, pid: r.pid };
}

test("without a setting, the process re-executes itself with the purge delay, keeping pid, arguments and env", () => {
  const { out, stderr, pid } = run({});
  expect(out.delay).toMatch(/^[1-9]\d*$/);
  expect(out.pid).toBe(pid); // execve: the same process, not a child
  expect(out.argv).toEqual(["--id", "7"]);
  expect(out.keep).toBe("kept");
  // mimalloc itself took the setting (MIMALLOC_VERBOSE prints its options at start, once per exec).
  expect(stderr).toContain(`option 'purge_delay': ${out.delay}`);
});

test("runtime flags survive the re-exec", () => {
  const { out } = run({}, ["--smol"]);
  expect(out.execArgv).toEqual(["--smol"]);
  expect(out.delay).toMatch(/^[1-9]\d*$/);
});

test("an explicit MIMALLOC_PURGE_DELAY wins, and there is no re-exec", () => {
  const { out, stderr } = run({ MIMALLOC_PURGE_DELAY: "250" });
  expect(out.delay).toBe("250");
  expect(stderr.match(/option 'purge_delay'/g)?.length).toBe(1);
  expect(stderr).toContain("option 'purge_delay': 250");
});
