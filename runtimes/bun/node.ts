#!/usr/bin/env bun
/** The node command on Bun: `bun run runtimes/bun/node.ts --id 1 [--peers ...]` (see --help). */
import "./allocator-env.ts"; // first: it may re-execute the process before anything else loads
import "./cbor-env.ts"; // before cbor-x loads
import { runNodeCommand } from "../../src/node/run-node-command.ts";
import { fileStorage } from "../node/file-storage.ts";
import { bunRuntime } from "./runtime-adapter.ts";

await runNodeCommand({
  argv: process.argv.slice(2),
  env: process.env,
  runtime: bunRuntime,
  storage: (dir) => fileStorage(dir),
  out: (line) => void process.stdout.write(line + "\n"),
  err: (line) => void process.stderr.write(line + "\n"),
  onSignal: (signal, fn) => void process.on(signal, fn),
  exit: (code) => process.exit(code),
});
