/**
 * The simulator's own seeded PRNG: xoshiro128** (32-bit state words, no bigint in the hot path),
 * seeded through splitmix32 so that any integer seed gives a well-mixed state. Sub-generators are
 * derived by label (`fork('links')`), so adding a consumer never shifts another's sequence.
 * Never Math.random: the same seed always gives the same numbers.
 */

/** splitmix32 step: returns [next state, output] */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [state, z >>> 0];
}

/** FNV-1a 32 of a string: used to turn fork labels into seed material. */
export function fnv1a32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** the seed this generator was made from (for "reproduce with seed=" messages) */
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    // fold in the high bits of seeds above 2^32 so that they are not silently equal
    let st = (seed >>> 0) ^ Math.floor(seed / 4294967296);
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [n, z] = splitmix32(st);
      st = n;
      out.push(z);
    }
    [this.s0, this.s1, this.s2, this.s3] = out as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** next uniformly distributed unsigned 32-bit integer */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** uniform in [0, 1) with 32 bits of resolution */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** uniform integer in [0, n) without modulo bias (n <= 2^32) */
  int(n: number): number {
    if (!(n > 0)) throw new RangeError(`Prng.int: n must be positive, got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** true with probability numerator/denominator (integer ratio, as TigerBeetle does) */
  chance(numerator: number, denominator: number): boolean {
    return this.int(denominator) < numerator;
  }

  /** a child generator whose sequence depends only on this generator's seed and the label */
  fork(label: string): Prng {
    return new Prng(fnv1a32(label, fnv1a32(String(this.seed))) ^ Math.imul(this.seed, 0x9e3779b1));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
