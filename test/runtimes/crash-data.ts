/**
 * Deterministic entry contents for the crash test, from index and term, so the parent can check any entry
 * it finds. Every ~13th entry is large, so a kill can land in the middle of a write.
 */
export function crashEntryData(index: number, term: number): Uint8Array {
  const size = index % 13 === 0 ? 300_000 + (index % 5) * 50_000 : 16 + (index % 200);
  const data = new Uint8Array(size);
  let x = (index * 2654435761 + term * 40503) >>> 0;
  for (let i = 0; i < size; i++) {
    x = Math.imul(x ^ (x >>> 13), 1274126177) >>> 0;
    data[i] = x & 0xff;
  }
  return data;
}
