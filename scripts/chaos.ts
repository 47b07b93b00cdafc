// `npm run chaos -- --seconds 60 [--seed N] [--clients 4]`: the fault suite with real processes (issue 6).
// Three Bun nodes with --fault-injection; clients register brokers and create topics over the admin API
// while a seeded nemesis kills -9, pauses (SIGSTOP) and partitions nodes; then the history is checked for
// linearizability and every node must hold every acknowledged write. Prints the seed first and one summary
// line last; exits 1 on any anomaly. Rerun a failure with the printed --seed.
import { runChaos } from "../test/chaos/chaos-suite.ts";

const args = process.argv.slice(2);
const flag = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
if (args.includes("--help")) {
  console.log("usage: bun scripts/chaos.ts [--seconds 60] [--seed N] [--clients 4] [--quiet]");
  process.exit(0);
}
const seconds = Number(flag("--seconds", "60"));
const seed = Number(flag("--seed", String(Math.floor(Math.random() * 2 ** 31))));
const clients = Number(flag("--clients", "4"));
if (!(seconds > 0) || !Number.isSafeInteger(seed) || !(clients >= 1)) {
  console.error("--seconds must be > 0, --seed an integer, --clients >= 1");
  process.exit(2);
}
const quiet = args.includes("--quiet");
console.log(`chaos: seed ${seed}, ${seconds} s, ${clients} clients, 3 Bun nodes (rerun: bun scripts/chaos.ts --seconds ${seconds} --seed ${seed})`);
const s = await runChaos({ seconds, seed, clients, log: quiet ? undefined : (l) => console.log(l) });
for (const d of s.details) console.log(d);
console.log(
  `chaos summary: seed ${s.seed}, ${s.operations} operations (${s.ok} ok, ${s.failed} failed, ${s.unknown} unknown; ` +
    `${s.registrations} registrations and ${s.topicsCreated} topic creations acknowledged), ` +
    `${s.faultsInjected} faults injected (${s.faults.kill} kill -9, ${s.faults.crashAll} whole-cluster kill -9, ${s.faults.pause} SIGSTOP, ${s.faults.partition} partitions), ` +
    `${s.anomalies} anomalies${s.unchecked ? `, ${s.unchecked} history partitions NOT checked (step budget)` : ""}`,
);
process.exit(s.anomalies === 0 && s.unchecked === 0 ? 0 : 1);
