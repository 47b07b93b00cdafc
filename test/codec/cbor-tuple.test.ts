import { expect, test } from "bun:test";
import { Decoder, Encoder } from "cbor-x";
import { cborTuple, encodeTuple, withArrayField, withBytesFieldHead } from "../../src/codec/cbor-tuple.ts";
import { decodeMessage, encodeMessage } from "../../src/raft/codec.ts";
import type { Entry, Message } from "../../src/raft/types.ts";
import { seededRandom } from "../../src/rng.ts";

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("a tuple is standard CBOR: an array head, uints and a byte string", () => {
  expect(hex(cborTuple([3, 7], new Uint8Array([1, 2]))!)).toBe("8303074201" + "02");
  expect(hex(cborTuple([], new Uint8Array(0))!)).toBe("8140");
});

test("every integer width and byte-string length round-trips through cbor-x", () => {
  const edges = [0, 1, 23, 24, 255, 256, 65535, 65536, 0xffff_ffff];
  for (const a of edges) {
    for (const len of [0, 23, 24, 255, 256, 65536]) {
      const data = Uint8Array.from({ length: len }, (_, i) => (i * 31 + a) & 0xff);
      const b = cborTuple([a, 5, a], data)!;
      const v = decoder.decode(b) as unknown[];
      expect(v.slice(0, 3)).toEqual([a, 5, a]);
      expect(new Uint8Array(v[3] as Uint8Array)).toEqual(data);
    }
  }
});

test("an integer cbor-tuple cannot write is refused, not written wrong", () => {
  for (const bad of [0x1_0000_0000, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER]) {
    expect(cborTuple([1, bad], new Uint8Array(1))).toBeUndefined();
  }
});

test("encodeTuple writes directly when it can and hands the rest to the encoder, both decoding alike", () => {
  const data = new Uint8Array([9, 8]);
  expect(encodeTuple([3, 7], data, cbor)).toEqual(cborTuple([3, 7], data)!);
  for (const big of [0x1_0000_0000, Number.MAX_SAFE_INTEGER]) {
    const v = decoder.decode(encodeTuple([big, 1], data, cbor)) as unknown[];
    expect(v.slice(0, 2)).toEqual([big, 1]);
    expect(new Uint8Array(v[2] as Uint8Array)).toEqual(data);
  }
});

test("withArrayField adds one pair to maps of every head width", () => {
  for (const n of [0, 1, 22, 23, 24, 255, 256, 300]) {
    const obj: Record<string, number> = {};
    for (let i = 0; i < n; i++) obj[`k${i}`] = i;
    const items = [cbor.encode([1, 2]), cbor.encode("x")];
    expect(decoder.decode(withArrayField(cbor.encode(obj), "entries", items))).toEqual({ ...obj, entries: [[1, 2], "x"] });
  }
  expect(() => withArrayField(cbor.encode([1]), "entries", [])).toThrow("not a CBOR map");
});

test("withBytesFieldHead and the bytes after it decode as the map with a byte string field, at every length head", () => {
  const meta = { index: 5, term: 2, conf: { voters: [1, 2], learners: [] } };
  for (const n of [0, 23, 24, 255, 256, 65535, 65536, 70000]) {
    const data = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
    const head = withBytesFieldHead(cbor.encode({ meta }), "data", n);
    const out = new Uint8Array(head.length + n);
    out.set(head);
    out.set(data, head.length);
    const back = decoder.decode(out) as { meta: unknown; data: Uint8Array };
    expect(back.meta).toEqual(meta);
    expect(new Uint8Array(back.data)).toEqual(data);
  }
});

test("messages with entries decode to what was encoded, sharing entry bytes between messages (seeded)", () => {
  const seed = Date.now() % 100_000;
  const rng = seededRandom(seed);
  try {
    for (let round = 0; round < 200; round++) {
      const big = rng.int(4) === 0;
      const entries: Entry[] = Array.from({ length: rng.int(40) }, (_, i) => ({
        term: 1 + rng.int(1000),
        // Indexes past 2^32 take cbor-x's path; they must still decode exactly.
        index: (big ? 2 ** 40 : 1) + round * 100 + i,
        type: rng.int(5) === 0 ? "confChange" : "normal",
        data: Uint8Array.from({ length: rng.int(600) }, () => rng.int(256)),
      }));
      const shared = new Map<Entry, Uint8Array>();
      for (const to of [2, 3]) {
        const m: Message = { type: "app", from: 1, to, term: 9, index: 4, logTerm: 8, commit: 3, entries };
        const back = decodeMessage(encodeMessage(m, shared));
        expect(back).toEqual(m);
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }
      expect(shared.size).toBe(entries.length);
    }
  } catch (e) {
    console.error(`cbor-tuple round trip failed with seed ${seed}`);
    throw e;
  }
});

test("decoded entry data is a copy, not a view into the frame", () => {
  const frame = encodeMessage({ type: "app", from: 1, to: 2, term: 1, index: 0, logTerm: 0, commit: 0, entries: [
    { term: 1, index: 1, type: "normal", data: new Uint8Array([7, 7, 7]) },
  ] });
  const m = decodeMessage(frame);
  frame.fill(0);
  expect(m.entries![0]!.data).toEqual(new Uint8Array([7, 7, 7]));
});
