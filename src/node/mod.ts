/** The node composition root and the node command's shared parts. Re-exports only. */
export { StreamBusNode, type StreamBusNodeOptions } from "./streambus-node.ts";
export { type NodeCommandOptions, parseNodeArgs, parsePeers, type ParsedArgs, USAGE, UsageError } from "./cli.ts";
export { type CommandHost, runNodeCommand } from "./run-node-command.ts";
