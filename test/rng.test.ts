import { expect, test } from "bun:test";
import { seededRandom } from "../src/rng.ts";

test("same seed, same sequence; different seed, different sequence", () => {
  const take = (seed: number) => Array.from({ length: 20 }, seededRandom(seed).next);
  expect(take(7)).toEqual(take(7));
  expect(take(7)).not.toEqual(take(8));
  for (const x of take(1)) expect(x >= 0 && x < 1).toBe(true);
});

test("int stays in range and covers it", () => {
  const rng = seededRandom(3);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const v = rng.int(5);
    expect(Number.isInteger(v) && v >= 0 && v < 5).toBe(true);
    seen.add(v);
  }
  expect(seen.size).toBe(5);
});
