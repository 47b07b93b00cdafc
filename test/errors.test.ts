import { describe, expect, test } from "bun:test";
import { isStreamBusError, StreamBusError } from "../src/errors.ts";

describe("StreamBusError", () => {
  test("carries a code and the leader hint", () => {
    const e = new StreamBusError("NotLeader", "node 2 is not the leader", { leaderId: 3 });
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe("NotLeader");
    expect(e.leaderId).toBe(3);
    expect(isStreamBusError(e, "NotLeader")).toBe(true);
    expect(isStreamBusError(e, "Timeout")).toBe(false);
    expect(isStreamBusError(new Error("x"))).toBe(false);
  });
});
