import { expect, test } from "bun:test";
import { runStorageConformance } from "../../src/testing/conformance/storage.ts";
import { makeEntries } from "../../src/testing/conformance/storage.ts";
import { memoryStorage } from "../../src/testing/memory-storage.ts";

runStorageConformance("memory", () => {
  const s = memoryStorage();
  let last = s;
  return { storage: s, reopen: () => (last = last.clone()) };
});

test("clone is independent of the original", async () => {
  const s = memoryStorage();
  await s.open();
  await s.append(makeEntries(1, 3, 1));
  const c = s.clone();
  await s.append(makeEntries(4, 5, 1));
  const initial = await c.open();
  expect(initial.entries.length).toBe(3);
  expect(await s.lastIndex()).toBe(5);
});

test("a closed storage refuses calls with Unavailable", async () => {
  const s = memoryStorage();
  await s.open();
  await s.close();
  await expect(s.lastIndex()).rejects.toMatchObject({ code: "Unavailable" });
});
