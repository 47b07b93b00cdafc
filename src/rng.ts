/**
 * Seeded pseudo-random numbers (sfc32 seeded by splitmix32). The Raft core and the simulator take their
 * randomness only from one of these, so a seed replays a run exactly.
 *
 * @example
 * const rng = seededRandom(42);
 * rng.next(); // a float in [0, 1), the same sequence for seed 42 every time
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** An independent generator derived from this one (for a sub-component). */
  fork(): Random;
}

export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const rng: Random = {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    fork: () => seededRandom(Math.floor(next() * 4294967296)),
  };
  return rng;
}
