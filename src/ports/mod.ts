export type { Storage } from "./storage.ts";
export type { FrameHandler, Transport } from "./transport.ts";
export { type Clock, every, systemClock } from "./clock.ts";
