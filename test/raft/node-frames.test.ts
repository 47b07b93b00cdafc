import { describe, expect, test } from "bun:test";
import { isStreamBusError, StreamBusError } from "../../src/errors.ts";
import {
  decodeFrame,
  fromRpcError,
  raftFrame,
  rpcRequestFrame,
  rpcResponseFrame,
  toRpcError,
  unwrapProposal,
  wrapProposal,
} from "../../src/raft/node-frames.ts";

describe("RaftNode frames", () => {
  test("raft frames carry the message bytes after the kind byte", () => {
    const f = decodeFrame(raftFrame(new Uint8Array([9, 8, 7])));
    expect(f.kind).toBe("raft");
    if (f.kind === "raft") expect(Array.from(f.payload)).toEqual([9, 8, 7]);
  });

  test("RPC request and response frames round-trip", () => {
    const req = decodeFrame(rpcRequestFrame({ id: 5, method: "m", body: { a: [1, "x"], b: new Uint8Array([1]) }, leaderOnly: true }));
    expect(req).toEqual({ kind: "rpcRequest", request: { id: 5, method: "m", body: { a: [1, "x"], b: new Uint8Array([1]) }, leaderOnly: true } });
    const ok = decodeFrame(rpcResponseFrame({ id: 5, ok: true, body: 42 }));
    expect(ok).toEqual({ kind: "rpcResponse", response: { id: 5, ok: true, body: 42 } });
    const err = decodeFrame(rpcResponseFrame({ id: 6, ok: false, error: { code: "NotLeader", message: "go to 2", details: { leaderId: 2 } } }));
    expect(err.kind === "rpcResponse" && err.response.error).toEqual({ code: "NotLeader", message: "go to 2", details: { leaderId: 2 } });
  });

  test("malformed frames throw Corrupt, never anything else", () => {
    const bad = [
      new Uint8Array(0),
      new Uint8Array([0]),
      new Uint8Array([4, 1]),
      new Uint8Array([2]),
      new Uint8Array([2, 0xff]),
      new Uint8Array([2, 0x01]), // a bare integer
      new Uint8Array([2, 0xa1, 0x62, 0x69, 0x64, 0x01]), // {id: 1} without method
      new Uint8Array([3, 0xa1, 0x62, 0x69, 0x64, 0x01]), // {id: 1} without ok
    ];
    for (const b of bad) {
      let err: unknown;
      try {
        decodeFrame(b);
      } catch (e) {
        err = e;
      }
      expect(isStreamBusError(err, "Corrupt")).toBe(true);
    }
  });

  test("an unknown error code from a peer becomes Unavailable", () => {
    const f = decodeFrame(rpcResponseFrame({ id: 1, ok: false, error: { code: "Weird" as never, message: "m" } }));
    expect(f.kind === "rpcResponse" && f.response.error?.code).toBe("Unavailable");
  });

  test("errors map to {code, message} and back", () => {
    const e = fromRpcError(toRpcError(new StreamBusError("Conflict", "v", { expected: 2, fn: () => 1 }), "m"));
    expect(e.code).toBe("Conflict");
    expect(e.details).toEqual({ expected: 2 });
    const plain = toRpcError(new Error("kaput"), "m");
    expect(plain.code).toBe("Unavailable");
    expect(plain.message).toContain("kaput");
  });

  test("proposal envelope round-trips and leaves foreign data alone", () => {
    const data = wrapProposal({ proposer: 3, incarnation: 0xdeadbeef, requestId: 77 }, new Uint8Array([1, 2]));
    const { tag, payload } = unwrapProposal(data);
    expect(tag).toEqual({ proposer: 3, incarnation: 0xdeadbeef, requestId: 77 });
    expect(Array.from(payload)).toEqual([1, 2]);
    const raw = new Uint8Array([1, 2, 3]);
    expect(unwrapProposal(raw)).toEqual({ payload: raw });
  });
});

describe("Raft batch frames", () => {
  test("several messages for one peer round-trip in order", async () => {
    const { raftBatchFrame } = await import("../../src/raft/node-frames.ts");
    const msgs = [new Uint8Array([1]), new Uint8Array(300).fill(7), new Uint8Array([2, 3])];
    const f = decodeFrame(raftBatchFrame(msgs));
    expect(f.kind).toBe("raftBatch");
    expect(f.kind === "raftBatch" && f.payloads).toEqual(msgs);
  });

  test("bad lengths, zero-length messages and empty batches are Corrupt", async () => {
    const { raftBatchFrame } = await import("../../src/raft/node-frames.ts");
    const good = raftBatchFrame([new Uint8Array([1, 2, 3])]);
    const bad = [
      good.subarray(0, good.length - 1), // a message cut short
      good.subarray(0, 3), // a length cut short
      new Uint8Array([4]), // no messages
      new Uint8Array([4, 0, 0, 0, 0]), // a zero-length message
    ];
    for (const b of bad) {
      try {
        decodeFrame(b);
        throw new Error("decoded a bad batch frame");
      } catch (e) {
        expect(isStreamBusError(e, "Corrupt")).toBe(true);
      }
    }
  });
});
