// The fault suite, short run inside the test command: three Bun processes under kill -9, SIGSTOP and link
// cuts for ~25 s; the history must be linearizable and every node must converge. Prints the seed on failure.
import { expect, test } from "bun:test";
import { checkLinearizability, kvModel } from "../../src/testing/linearizability.ts";
import { recorder } from "./chaos-history.ts";
import { runChaos } from "./chaos-suite.ts";

test("the history encoding catches a lost acknowledged write and a topic created twice", () => {
  const rec = recorder();
  rec.record({ op: "put", key: "b1", value: "2001" }, {}, 0, 10, 1);
  rec.record({ op: "get", key: "b1" }, { value: null }, 20, 30, 2); // the acknowledged registration vanished
  rec.record({ op: "cas", key: "tt1", expected: null, value: "1" }, { ok: true }, 0, 10, 1);
  rec.record({ op: "cas", key: "tt1", expected: null, value: "1" }, { ok: true }, 20, 30, 2); // 201 twice
  rec.record({ op: "put", key: "b2", value: "2002" }, undefined, 0, 10, 1); // unknown outcome: may apply late
  rec.record({ op: "get", key: "b2" }, { value: null }, 20, 30, 2);
  rec.record({ op: "get", key: "b2" }, { value: "2002" }, 40, 50, 2);
  const r = checkLinearizability(kvModel, rec.ops);
  expect(r.failures.map((f) => f.partition)).toEqual(["b1", "tt1"]);
});

test("fault suite (short run): kill -9, SIGSTOP and partitions; no anomalies", async () => {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const lines: string[] = [];
  let s;
  try {
    s = await runChaos({ seconds: 22, seed, log: (l) => lines.push(l) });
  } catch (e) {
    console.log(`chaos seed ${seed} (rerun: bun scripts/chaos.ts --seconds 22 --seed ${seed})\n${lines.slice(-40).join("\n")}`);
    throw e;
  }
  if (s.anomalies !== 0 || s.faultsInjected === 0 || s.ok < 50) {
    console.log(`chaos seed ${seed} (rerun: bun scripts/chaos.ts --seconds 22 --seed ${seed})\n${lines.join("\n")}\n${s.details.join("\n")}`);
  }
  expect(s.anomalies).toBe(0);
  expect(s.unchecked).toBe(0);
  expect(s.faultsInjected).toBeGreaterThan(2);
  expect(s.ok).toBeGreaterThan(50);
  expect(s.registrations).toBeGreaterThan(10);
  expect(s.topicsCreated).toBeGreaterThan(0);
}, 150_000);
