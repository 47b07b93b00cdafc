import { describe, expect, test } from "bun:test";
import { Encoder } from "cbor-x";
import { isStreamBusError } from "../../src/errors.ts";
import { decodeConfChange, decodeMessage, encodeConfChange, encodeMessage } from "../../src/raft/codec.ts";
import { defaultConfig, validateConfig } from "../../src/raft/config.ts";
import type { Message, RaftConfig } from "../../src/raft/types.ts";
import { seededRandom } from "../../src/rng.ts";
import { code, enc } from "./core-harness.ts";

const cbor = new Encoder({ useRecords: false });

const full: Message = {
  type: "app", from: 1, to: 2, term: 7, logTerm: 6, index: 41, commit: 40, reject: false, rejectHint: 3, conflictTerm: 2,
  entries: [
    { term: 7, index: 42, type: "normal", data: enc("hello") },
    { term: 7, index: 43, type: "confChange", data: encodeConfChange({ changes: [{ type: "addVoter", nodeId: 4, addr: "h:1" }] }) },
  ],
  context: enc("ctx"), transfer: true, offset: 9, commitTerm: 6,
};
const snap: Message = {
  type: "snap", from: 1, to: 3, term: 2,
  snapshot: {
    meta: { index: 10, term: 2, conf: { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false }, addrs: { "1": "a:1" } },
    offset: 4, data: enc("abcd"), total: 12,
  },
};

describe("raft codec", () => {
  test("messages round-trip through CBOR (entries as [term, index, type, data] tuples)", () => {
    for (const m of [full, snap, { type: "heartbeat", from: 1, to: 2, term: 1 } as Message]) {
      const back = decodeMessage(encodeMessage(m));
      expect(back).toEqual(m);
      for (const e of back.entries ?? []) expect(e.data).toBeInstanceOf(Uint8Array);
    }
  });

  test("conf changes round-trip and are validated", () => {
    const cc = { changes: [{ type: "addLearner" as const, nodeId: 5, addr: "x:2" }, { type: "removeNode" as const, nodeId: 2 }], autoLeave: false };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(code(() => decodeConfChange(cbor.encode({ changes: [{ type: "addVoter", nodeId: -1 }] })))).toBe("Invalid");
    expect(code(() => decodeConfChange(cbor.encode({ changes: "no" })))).toBe("Invalid");
    expect(code(() => decodeConfChange(new Uint8Array([0xff, 0x00])))).toBe("Invalid");
  });

  const malformed: [string, unknown][] = [
    ["not a map", [1, 2, 3]],
    ["unknown type", { type: "bogus", from: 1, to: 2, term: 1 }],
    ["missing from", { type: "app", to: 2, term: 1 }],
    ["negative term", { type: "app", from: 1, to: 2, term: -1 }],
    ["fractional index", { type: "app", from: 1, to: 2, term: 1, index: 1.5 }],
    ["string commit", { type: "app", from: 1, to: 2, term: 1, commit: "9" }],
    ["entries not an array", { type: "app", from: 1, to: 2, term: 1, entries: { 0: 1 } }],
    ["entry data not bytes", { type: "app", from: 1, to: 2, term: 1, entries: [[1, 1, 0, "x"]] }],
    ["entry bad type", { type: "app", from: 1, to: 2, term: 1, entries: [[1, 1, 2, new Uint8Array()]] }],
    ["entry type an array property name", { type: "app", from: 1, to: 2, term: 1, entries: [[1, 1, "length", new Uint8Array()]] }],
    ["entry tuple too short", { type: "app", from: 1, to: 2, term: 1, entries: [[1, 1, 0]] }],
    ["entry as a map", { type: "app", from: 1, to: 2, term: 1, entries: [{ term: 1, index: 1, type: "normal", data: new Uint8Array() }] }],
    ["entry negative index", { type: "app", from: 1, to: 2, term: 1, entries: [[1, -1, 0, new Uint8Array()]] }],
    ["reject not boolean", { type: "appResp", from: 1, to: 2, term: 1, reject: 1 }],
    ["context not bytes", { type: "heartbeat", from: 1, to: 2, term: 1, context: [1, 2] }],
    ["chunk past total", { ...snap, snapshot: { ...snap.snapshot, offset: 10 } }],
    ["conf without voters", { ...snap, snapshot: { ...snap.snapshot, meta: { index: 1, term: 1, conf: {} } } }],
  ];
  for (const [what, v] of malformed) {
    test(`rejects a malformed message: ${what}`, () => {
      expect(code(() => decodeMessage(cbor.encode(v)))).toBe("Invalid");
    });
  }

  test("random bytes and truncated frames never crash decode: they throw Invalid or decode to a valid shape", () => {
    const seed = 12345;
    const rng = seededRandom(seed);
    const good = encodeMessage(full);
    for (let i = 0; i < 2000; i++) {
      let b: Uint8Array;
      if (i % 2 === 0) b = good.slice(0, rng.int(good.length));
      else {
        b = good.slice();
        for (let k = 0; k < 3; k++) b[rng.int(b.length)] = rng.int(256);
      }
      const c = code(() => decodeMessage(b));
      if (c !== undefined && c !== "Invalid") throw new Error(`seed ${seed} iteration ${i}: ${c}`);
    }
  });
});

describe("raft config", () => {
  const cfg = (over: Partial<RaftConfig>): RaftConfig => ({
    ...defaultConfig(), nodeId: 1, peers: [{ id: 1, addr: "a" }, { id: 2, addr: "b" }, { id: 3, addr: "c" }], ...over,
  });

  test("defaults follow the contract and validate", () => {
    const d = defaultConfig();
    expect([d.electionTimeout, d.heartbeatInterval, d.snapshotThreshold, d.maxAppendEntries, d.preVote, d.checkQuorum, d.leaseRead])
      .toEqual([1500, 150, 8192, 64, true, true, false]);
    validateConfig(cfg({}));
    validateConfig(cfg({ peers: [] })); // join mode
  });

  const bad: [string, Partial<RaftConfig>, RegExp][] = [
    ["heartbeat not well below the election timeout", { heartbeatInterval: 400 }, /at most a fifth/],
    ["duplicate peer ids", { peers: [{ id: 1, addr: "a" }, { id: 1, addr: "b" }] }, /duplicate peer id 1/],
    ["own id missing", { nodeId: 9 }, /own id 9 is missing/],
    ["zero node id", { nodeId: 0 }, /nodeId/],
    ["tick longer than a heartbeat", { tickInterval: 1000 }, /tickInterval/],
    ["lease reads without CheckQuorum", { leaseRead: true, checkQuorum: false }, /leaseRead requires checkQuorum/],
    ["zero maxAppendEntries", { maxAppendEntries: 0 }, /maxAppendEntries/],
    ["fractional maxInflightMsgs", { maxInflightMsgs: 1.5 }, /maxInflightMsgs/],
    ["negative snapshotLogRatio", { snapshotLogRatio: -1 }, /snapshotLogRatio must be a number >= 0/],
    ["NaN snapshotLogRatio", { snapshotLogRatio: NaN }, /snapshotLogRatio/],
  ];
  for (const [what, over, msg] of bad) {
    test(`rejects: ${what}`, () => {
      let err: unknown;
      try {
        validateConfig(cfg(over));
      } catch (e) {
        err = e;
      }
      expect(isStreamBusError(err, "Invalid")).toBe(true);
      expect((err as Error).message).toMatch(msg);
    });
  }
});
