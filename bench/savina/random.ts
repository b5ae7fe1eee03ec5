/**
 * The benchmarks' random numbers: a small deterministic generator (Marsaglia's xorshift32),
 * seeded per actor as Savina seeds its `java.util.Random`s, so every run and every
 * implementation makes the same choices (the same ping targets, keys, transfers) and the
 * runs compare like for like. Quality is beside the point; cost and reproducibility are not.
 */
export class Random {
  private x: number;

  /** Any integer seed; equal seeds give equal sequences. */
  constructor(seed: number) {
    // mix the seed so that small neighbouring seeds (actor ids) start far apart; never 0
    this.x = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) | 0 || 0x2545f491;
    for (let i = 0; i < 4; i++) this.next();
  }

  /** The next unsigned 32-bit value. */
  next(): number {
    let x = this.x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x;
    return x >>> 0;
  }

  /** An integer in [0, bound), bound ≥ 1. */
  nextInt(bound: number): number {
    return this.next() % bound;
  }
}
