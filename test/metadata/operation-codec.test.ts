import { describe, expect, test } from "bun:test";
import { Encoder } from "cbor-x";
import { StreamBusError } from "../../src/errors.ts";
import { decodeCommand, encodeCommand, encodeJson, validateCommand } from "../../src/metadata/operation-codec.ts";
import type { Command } from "../../src/metadata/types.ts";
import { firstDifference } from "./helpers.ts";

const cbor = new Encoder({ useRecords: false });
const utf8 = new TextEncoder();
const rejection = (bytes: Uint8Array): string => {
  try {
    decodeCommand(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(StreamBusError);
    expect((e as StreamBusError).code).toBe("Invalid");
    return (e as StreamBusError).message;
  }
  throw new Error("expected Invalid");
};
/** The rejection of `raw` as a JSON command; as a CBOR command (earlier versions' log) it must be the same. */
const invalid = (raw: unknown): string => {
  const message = rejection(utf8.encode(JSON.stringify(raw)));
  expect(rejection(cbor.encode(raw))).toBe(message);
  return message;
};

describe("operation codec", () => {
  test("round trip keeps every field, and only known fields", () => {
    const cmd: Command = {
      clientId: "c",
      seq: 3,
      ackBelow: 2,
      expectedVersion: 9,
      op: {
        type: "registerBroker",
        broker: { id: 1, host: "::1", port: 9092, rack: "r", capacity: 1.5, diskCapacityGB: 10, diskUsedGB: 0, networkBandwidth: 100, version: "v", tags: { b: "2", a: "1" } },
        at: 5,
      },
    };
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    const extra = decodeCommand(cbor.encode({ ...cmd, evil: 1, op: { ...cmd.op, sneaky: true } }));
    expect("evil" in extra).toBe(false);
    expect("sneaky" in extra.op).toBe(false);
  });

  test("a checked command is exactly what its bytes decode to, so the proposer's apply may skip decoding", () => {
    // MetadataStore proposes encodeJson(validateCommand(x)) and hands its own apply validateCommand(x); every
    // other node applies decodeCommand of the bytes. Any difference would let the nodes diverge.
    const odd = "\ud800 lone surrogate, \u00e9, \u{1f600}, quote \" and \\";
    const ops: unknown[] = [
      { type: "registerBroker", broker: { id: 7, host: odd, port: 1, rack: "", capacity: 0.5, diskCapacityGB: -0, diskUsedGB: 1e-7, networkBandwidth: 1e21, version: odd, tags: { "10": "a", "2": odd, b: "", a: "x" }, status: "ALIVE", lastHeartbeat: -0 }, at: -0 },
      { type: "updateBroker", brokerId: 1, patch: { rack: null, tags: null, port: 2, lastHeartbeat: 0 } },
      { type: "updateBrokerStatus", brokerId: 3, status: "DRAINING", at: 12.5 },
      { type: "unregisterBroker", brokerId: 2 },
      { type: "createTopic", name: odd.replace(/"/g, ""), config: { retentionMs: -1, cleanupPolicy: "compact", "9": "x" }, partitions: [{ partitionId: 1, replicas: [3, 1], leader: 1 }, { partitionId: 0, replicas: [2] }], at: 0 },
      { type: "updateTopicConfig", name: "t", config: { retentionMs: null, segmentBytes: 1 } },
      { type: "deleteTopic", name: "t" },
      { type: "applyAssignment", partitions: [{ topic: "t", partitionId: 0, replicas: [1, 2, 3] }], at: 3 },
      { type: "updateLeader", topic: "t", partitionId: 0, leader: 2, leaderEpoch: -0 },
      { type: "updateIsr", topic: "t", partitionId: 0, isr: [2, 1] },
      { type: "updateIsr", topic: "t", partitionId: 0, isr: [2], leaderEpoch: 4 },
      { type: "beginReassignment", topic: "t", partitionId: 0, targetReplicas: [4, 5] },
      { type: "completeReassignment", topic: "t", partitionId: 0 },
    ];
    for (const [i, op] of ops.entries()) {
      const raw = { clientId: odd, seq: i + 1, ackBelow: 1, expectedVersion: -0, expectedAssignmentVersion: 2, op, extra: true };
      const checked = validateCommand(raw);
      const decoded = decodeCommand(encodeJson(checked));
      expect(`${(op as { type: string }).type}: ${firstDifference(checked, decoded) ?? "same"}`).toBe(`${(op as { type: string }).type}: same`);
    }
    expect(Object.is((validateCommand({ clientId: "c", seq: 1, op: { type: "updateLeader", topic: "t", partitionId: -0, leader: 1, leaderEpoch: 0 } }).op as { partitionId: number }).partitionId, 0)).toBe(true);
  });

  test("commands are JSON on the log; CBOR entries of earlier versions still decode; bad bytes are Invalid", () => {
    const cmd: Command = { clientId: "c", seq: 1, op: { type: "deleteTopic", name: "t" } };
    const bytes = encodeCommand(cmd);
    expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual(cmd);
    expect(decodeCommand(cbor.encode(cmd))).toEqual(cmd);
    expect(rejection(bytes.subarray(0, bytes.length - 3))).toContain("not valid JSON");
    expect(rejection(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).toContain("not valid JSON"); // not UTF-8
    expect(rejection(utf8.encode("{}"))).toContain("clientId");
    expect(rejection(new Uint8Array([0xa1, 0x61]))).toContain("not valid CBOR");
    expect(rejection(new Uint8Array(0))).toContain("not valid CBOR");
  });

  test("malformed commands name the offending field", () => {
    expect(invalid({ clientId: "c", seq: 0, op: { type: "deleteTopic", name: "t" } })).toContain("seq");
    expect(invalid({ clientId: "", seq: 1, op: { type: "deleteTopic", name: "t" } })).toContain("clientId");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "deleteTopic", name: "" } })).toContain("op.name");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "deleteTopic", name: "a\u0000b" } })).toContain("control characters");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "registerBroker", broker: { id: 1, host: "h", port: 0 }, at: 1 } })).toContain("op.broker.port");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "registerBroker", broker: { id: 1.5, host: "h", port: 1 }, at: 1 } })).toContain("op.broker.id");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "registerBroker", broker: { id: 1, host: "h", port: 1, status: "ZOMBIE" }, at: 1 } })).toContain("status");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "registerBroker", broker: { id: 1, host: "h", port: 1, tags: { a: 1 } }, at: 1 } })).toContain("tags.a");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "updateBrokerStatus", brokerId: 1, status: "ALIVE" } })).toContain("op.at");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "createTopic", name: "t", config: {}, partitions: [], at: 1 } })).toContain("at least one");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "createTopic", name: "t", config: { cleanupPolicy: "x" }, partitions: [{ partitionId: 0, replicas: [1] }], at: 1 } }))
      .toContain("cleanupPolicy");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "applyAssignment", partitions: [{ topic: "t", partitionId: 0, replicas: [1], leader: 2 }], at: 1 } }))
      .toContain("must be one of the replicas");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "applyAssignment", partitions: [{ topic: "t", partitionId: 0, replicas: [1] }, { topic: "t", partitionId: 0, replicas: [2] }], at: 1 } }))
      .toContain("twice");
    expect(invalid({ clientId: "c", seq: 1, op: { type: "updateIsr", topic: "t", partitionId: 0, isr: [] } })).toContain("non-empty");
    expect(invalid({ clientId: "c", seq: 2, ackBelow: 3, op: { type: "deleteTopic", name: "t" } })).toContain("ackBelow");
  });
});
