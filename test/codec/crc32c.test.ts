import { expect, test } from "bun:test";
import { crc32c } from "../../src/codec/crc32c.ts";

const bytes = (n: number, f: (i: number) => number) => Uint8Array.from({ length: n }, (_, i) => f(i));

/** CRC-32C bit by bit, straight from the definition: the reference the table-driven loops must match. */
const ref = (d: Uint8Array) => {
  let c = 0xffffffff;
  for (const b of d) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
};

test("known vectors (RFC 3720 B.4 and the check value)", () => {
  expect(crc32c(new Uint8Array(0))).toBe(0);
  expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
  expect(crc32c(bytes(32, () => 0))).toBe(0x8a9136aa);
  expect(crc32c(bytes(32, () => 0xff))).toBe(0x62a8ab43);
  expect(crc32c(bytes(32, (i) => i))).toBe(0x46dd794e);
  expect(crc32c(bytes(32, (i) => 31 - i))).toBe(0x113fdb5c);
  expect(crc32c(new TextEncoder().encode("The quick brown fox jumps over the lazy dog"))).toBe(0x22620404);
});

test("matches a bit-by-bit reference on every length up to 100 and continues across chunks", () => {
  const data = bytes(100, (i) => (i * 167 + 13) & 0xff);
  for (let n = 0; n <= 100; n++) {
    const d = data.subarray(0, n);
    expect(crc32c(d)).toBe(ref(d));
    const cut = n >> 1;
    expect(crc32c(d.subarray(cut), crc32c(d.subarray(0, cut)))).toBe(ref(d));
    for (const from of [0, 1, 3, 8, 9]) {
      if (from > n) continue;
      expect(crc32c(data, 0, from, n)).toBe(ref(data.subarray(from, n))); // a range, no subarray
    }
  }
});

test("the word loop for long inputs (any alignment, any range) matches the byte loop", () => {
  const data = bytes(5000, (i) => (i * 131 + 7) & 0xff);
  for (const from of [0, 1, 2, 3, 5, 8]) {
    for (const len of [1023, 1024, 1025, 1031, 2048, 4093]) {
      const d = data.subarray(from, from + len);
      const want = ref(d);
      expect(crc32c(d)).toBe(want);
      expect(crc32c(data, 0, from, from + len)).toBe(want);
      expect(crc32c(d.subarray(700), crc32c(d.subarray(0, 700)))).toBe(want); // continues across a short and a long chunk
    }
  }
  expect(crc32c(data.subarray(1000, 3000), 0x12345678)).toBe(crc32c(data.subarray(1000, 3000).slice(), 0x12345678));
});

test("a single flipped bit changes the checksum", () => {
  const d = bytes(4096, (i) => i & 0xff);
  const base = crc32c(d);
  for (const pos of [0, 1, 7, 8, 2047, 4095]) {
    const e = d.slice();
    e[pos] ^= 0x10;
    expect(crc32c(e)).not.toBe(base);
  }
});
