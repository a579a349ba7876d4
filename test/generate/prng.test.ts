import { describe, expect, it } from 'vitest';
import { drawLatencyMs } from '../../src/generate/latency.js';
import { Prng } from '../../src/generate/prng.js';

const draws = (rng: Prng, n: number) => Array.from({ length: n }, () => rng.nextUint32());

describe('Prng', () => {
  it('repeats its sequence for the same seed and differs for another seed', () => {
    expect(draws(new Prng(42), 50)).toEqual(draws(new Prng(42), 50));
    expect(draws(new Prng(42), 50)).not.toEqual(draws(new Prng(43), 50));
  });

  it('uses the high bits of large seeds', () => {
    expect(draws(new Prng(2 ** 40 + 5), 20)).not.toEqual(draws(new Prng(5), 20));
  });

  it('gives independent streams per purpose, each repeatable', () => {
    const ids = draws(Prng.stream(7, 'ids'), 20);
    expect(draws(Prng.stream(7, 'ids'), 20)).toEqual(ids);
    expect(draws(Prng.stream(7, 'faults'), 20)).not.toEqual(ids);
  });

  it('draws floats in [0, 1) with a uniform mean and integers within bounds', () => {
    const rng = new Prng(1);
    let sum = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < 20_000; i++) {
      const x = rng.float();
      sum += x;
      min = Math.min(min, x);
      max = Math.max(max, x);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / 20_000).toBeCloseTo(0.5, 1);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(rng.int(3, 6));
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });

  it('makes lowercase hex ids of the requested length', () => {
    const rng = new Prng(9);
    expect(rng.hex(32)).toMatch(/^[0-9a-f]{32}$/);
    expect(rng.hex(16)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('picks by weight', () => {
    const rng = new Prng(3);
    let heavy = 0;
    for (let i = 0; i < 10_000; i++) if (rng.weighted([['a', 9], ['b', 1]] as const) === 'a') heavy++;
    expect(heavy / 10_000).toBeGreaterThan(0.87);
    expect(heavy / 10_000).toBeLessThan(0.93);
  });
});

describe('drawLatencyMs', () => {
  it('centres on the median, has a tail well beyond the body, and respects the cap', () => {
    const rng = new Prng(11);
    const values = Array.from({ length: 20_000 }, () =>
      drawLatencyMs(rng, { medianMs: 10, sigma: 0.4, tailShare: 0.05, tailAlpha: 1.5, capMs: 2000 }),
    ).sort((a, b) => a - b);
    const quantile = (q: number) => values[Math.floor(q * (values.length - 1))];
    expect(quantile(0.5)).toBeGreaterThan(9);
    expect(quantile(0.5)).toBeLessThan(11.5);
    // A log-normal body alone (sigma 0.4) would put p99.9 near 34 ms; the Pareto tail goes far beyond.
    expect(quantile(0.999)).toBeGreaterThan(60);
    expect(values[values.length - 1]).toBeLessThanOrEqual(2000);
    expect(values[0]).toBeGreaterThan(0);
  });
});
