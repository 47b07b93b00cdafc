/** The node command on Node: built by scripts/build.mjs to dist/node.js; `node dist/node.js --id 1 [...]`. */
import { runNodeCommand } from "../../src/node/run-node-command.ts";
import { fileStorage } from "./file-storage.ts";
import { nodeRuntime } from "./runtime-adapter.ts";

await runNodeCommand({
  argv: process.argv.slice(2),
  env: process.env,
  runtime: nodeRuntime,
  storage: (dir) => fileStorage(dir),
  out: (line) => void process.stdout.write(line + "\n"),
  err: (line) => void process.stderr.write(line + "\n"),
  onSignal: (signal, fn) => void process.on(signal, fn),
  exit: (code) => process.exit(code),
});
