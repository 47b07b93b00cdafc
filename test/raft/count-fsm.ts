import type { StateMachine } from "../../src/raft/types.ts";

/** The smallest state machine: counts applied entries; apply returns the new count. */
export class CountFsm implements StateMachine {
  n = 0;
  apply(): unknown {
    return ++this.n;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.n));
  }
  restore(data: Uint8Array): void {
    this.n = Number(new TextDecoder().decode(data));
  }
}
