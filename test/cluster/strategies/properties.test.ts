// Property tests over random clusters: 1–200 brokers, 0–6 racks (even or skewed), RF 1–5, 1–5,000
// partitions; brokers added, removed, failed and excluded. fast-check prints the seed and path of a failure;
// replay one with `fc.assert(<property>, { seed, path })` on the property exported by scenarios.ts.
import { describe, test } from "bun:test";
import fc from "fast-check";
import { assignProperty, runs, stickyArbitraryProperty, stickyChangeProperty } from "./scenarios.ts";

describe("strategy properties", () => {
  test("assign: rules always hold, balance cluster-wide and per topic", () => {
    fc.assert(assignProperty, runs(100));
  }, 60_000);

  test("sticky rebalance after brokers join, leave, fail or are excluded: balanced, rules hold, minimum moves", () => {
    fc.assert(stickyChangeProperty, runs(100));
  }, 60_000);

  test("sticky rebalance from arbitrary assignments: balanced, rules hold, moves near the bound", () => {
    fc.assert(stickyArbitraryProperty, runs(60));
  }, 60_000);
});
