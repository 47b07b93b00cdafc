/** The node command on Deno: `deno run -A runtimes/deno/node.ts --id 1 [...]` (see --help). */
import { runNodeCommand } from "../../src/node/run-node-command.ts";
import { fileStorage } from "../node/file-storage.ts";
import { denoRuntime } from "./runtime-adapter.ts";

const encoder = new TextEncoder();
await runNodeCommand({
  argv: Deno.args,
  env: Deno.env.toObject(),
  runtime: denoRuntime,
  storage: (dir) => fileStorage(dir),
  out: (line) => void Deno.stdout.writeSync(encoder.encode(line + "\n")),
  err: (line) => void Deno.stderr.writeSync(encoder.encode(line + "\n")),
  onSignal: (signal, fn) => Deno.addSignalListener(signal, fn),
  exit: (code) => Deno.exit(code),
});
