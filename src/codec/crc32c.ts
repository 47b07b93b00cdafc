/**
 * CRC-32C (Castagnoli, polynomial 0x82F63B78 reflected), as used by iSCSI, ext4 and most log formats.
 * Table-driven "slicing by 8": eight 256-entry tables let the loop fold eight bytes per step. Web
 * standards only (typed arrays), so it runs in every runtime and the browser.
 */

const POLY = 0x82f63b78;

/**
 * The eight tables in one array, FLAT[k * 256 + b] (the word loop indexes it so), and TABLES[k] a view of
 * table k (the byte loop). Int32Array: the word loop mixes signed 32-bit words into its entries.
 */
const FLAT = new Int32Array(8 * 256);
const TABLES: Uint32Array[] = Array.from({ length: 8 }, (_, k) => new Uint32Array(FLAT.buffer, k * 1024, 256));
{
  const t = TABLES;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0][n];
    for (let k = 1; k < 8; k++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[k][n] = c >>> 0;
    }
  }
}

/** Whether an Int32Array reads bytes little-endian, as the word loop assumes (every common platform). */
const LITTLE_ENDIAN = new Uint8Array(new Int32Array([1]).buffer)[0] === 1;

/**
 * From this many bytes on, the loop reads two 32-bit words per step instead of eight bytes (about twice as
 * fast). Below it, the word view is not worth its cost: on JavaScriptCore (Bun) asking a small fresh
 * array for its ArrayBuffer allocates one.
 */
const WORD_LOOP_BYTES = 1024;

/**
 * The CRC-32C of `data`, or of its bytes [from, to). Pass the previous result as `crc` to continue over
 * several chunks: `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`. A range costs nothing, where a
 * subarray of a small fresh array allocates its ArrayBuffer on JavaScriptCore (Bun).
 *
 * @example
 * crc32c(new TextEncoder().encode("123456789")) === 0xe3069283
 */
export function crc32c(data: Uint8Array, crc = 0, from = 0, to = data.length): number {
  let c = ~crc | 0;
  let i = from;
  if (LITTLE_ENDIAN && to - from >= WORD_LOOP_BYTES) {
    const T = FLAT;
    while (((data.byteOffset + i) & 3) !== 0) c = T[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
    const words = new Int32Array(data.buffer, data.byteOffset + i, ((to - i) >> 3) * 2);
    for (let j = 0; j < words.length; j += 2) {
      const lo = c ^ words[j];
      const hi = words[j + 1];
      c = T[1792 + (lo & 0xff)] ^ T[1536 + ((lo >>> 8) & 0xff)] ^ T[1280 + ((lo >>> 16) & 0xff)] ^ T[1024 + (lo >>> 24)] ^
        T[768 + (hi & 0xff)] ^ T[512 + ((hi >>> 8) & 0xff)] ^ T[256 + ((hi >>> 16) & 0xff)] ^ T[hi >>> 24];
    }
    i += words.length * 4;
  }
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  c = c >>> 0;
  const n = to;
  const end8 = n - ((n - i) % 8);
  while (i < end8) {
    const lo = (c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
    c =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[data[i + 4]] ^
      t2[data[i + 5]] ^
      t1[data[i + 6]] ^
      t0[data[i + 7]];
    i += 8;
  }
  while (i < n) c = t0[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
