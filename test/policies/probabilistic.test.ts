import { describe, expect, it } from 'vitest';
import { ProbabilisticEvaluator, samplingThreshold, traceIdHash } from '../../src/policies/probabilistic.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const ctx = { nowMs: TEST_BASE_MS };
const MAX_UINT64 = (1n << 64n) - 1n;

/** FNV-1a 64 straight from its definition: xor each byte, multiply by the prime, mod 2^64. */
function fnv1a64(bytes: Uint8Array): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & MAX_UINT64;
  }
  return hash;
}

function specHash(salt: string, traceIdHex: string): bigint {
  const saltBytes = new TextEncoder().encode(salt);
  const idBytes = Uint8Array.from(traceIdHex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
  return fnv1a64(new Uint8Array([...saltBytes, ...idBytes]));
}

const IDS = [
  '00000000000000000000000000000000',
  '0102030405060708090a0b0c0d0e0f10',
  '4bf92f3577b34da6a3ce929d0e0e4736',
  'ffffffffffffffffffffffffffffffff',
  '5b8efff798038103d269b633813fc60c',
  'a3ce929d0e0e47364bf92f3577b34da6',
];

/**
 * Hashes of the ids above as Go's hash/fnv (the Collector's hash) computes them:
 * fnv.New64a(), Write(salt), Write(16 id bytes), Sum64().
 */
const GO_HASHES: Record<string, readonly string[]> = {
  'default-hash-seed': ['16254958829412527165', '15838989281584434349', '11908981664384643253', '1711019809656077869', '10804547627798090743', '15294967425977127737'],
  'test-salt': ['9316101679626017984', '643542913863792944', '12373566994375301436', '5329741664083342512', '5961503907575858386', '1366564881455002104'],
};

describe('probabilistic: the trace id hash', () => {
  it('matches FNV-1a 64 computed from its definition', () => {
    // Published FNV-1a 64 test vectors: "" and "a".
    expect(fnv1a64(new Uint8Array())).toBe(0xcbf29ce484222325n);
    expect(fnv1a64(new TextEncoder().encode('a'))).toBe(0xaf63dc4c8601ec8cn);
    for (const salt of ['default-hash-seed', 'test-salt', 'ünïcode-salt']) {
      for (const id of IDS) expect(traceIdHash(salt, id)).toBe(specHash(salt, id));
    }
  });

  it.each(Object.entries(GO_HASHES))('matches Go hash/fnv for salt %s', (salt, hashes) => {
    IDS.forEach((id, i) => expect(traceIdHash(salt, id).toString()).toBe(hashes[i]));
  });

  it('reads hex digits of either case', () => {
    for (const id of IDS) expect(traceIdHash('', id.toUpperCase())).toBe(traceIdHash('', id));
    const upper = new ProbabilisticEvaluator(64.6).evaluate(makeTrace([{}], { traceId: IDS[2].toUpperCase() }), ctx);
    expect(upper).toBe(new ProbabilisticEvaluator(64.6).evaluate(makeTrace([{}], { traceId: IDS[2] }), ctx));
  });

  it('uses the default salt for an empty one, as the Collector does', () => {
    expect(traceIdHash('', IDS[2])).toBe(traceIdHash('default-hash-seed', IDS[2]));
  });
});

describe('probabilistic: the threshold', () => {
  // Go: new(big.Float).SetInt(MaxUint64).Mul(.., big.NewFloat(pct/100)).Uint64(), as the Collector computes it.
  it.each([
    [0, '0'],
    [0.1, '18446744073709551'],
    [1, '184467440737095519'],
    [5, '922337203685477631'],
    [10, '1844674407370955263'],
    [25, '4611686018427387903'],
    [33, '6087425544324152319'],
    [33.3, '6142765776545279999'],
    [50, '9223372036854775807'],
    [66.6, '12285531553090559999'],
    [99.99, '18444899399302178815'],
    [100, '18446744073709551615'],
    [150, '18446744073709551615'],
    [-5, '0'],
  ])('%d%% gives %s', (percentage, expected) => {
    expect(samplingThreshold(percentage).toString()).toBe(expected);
  });

  it('is not the naive MaxUint64 × ratio in floating point', () => {
    expect(samplingThreshold(10)).not.toBe(MAX_UINT64 / 10n);
  });
});

describe('probabilistic: decisions', () => {
  // Default salt: the hash of ffff…ff is 1711019809656077869, 9.28% of MaxUint64.
  it.each([
    [IDS[3], 10, 'sampled'],
    [IDS[3], 9.27, 'not_sampled'],
    [IDS[3], 9.28, 'sampled'],
    [IDS[2], 64.5, 'not_sampled'],
    [IDS[2], 64.6, 'sampled'],
    [IDS[0], 88, 'not_sampled'],
    [IDS[0], 100, 'sampled'],
    [IDS[3], 0, 'not_sampled'],
  ])('trace %s at %d%% is %s', (traceId, percentage, expected) => {
    const hash = traceIdHash('', traceId);
    expect(hash <= samplingThreshold(percentage)).toBe(expected === 'sampled');
    expect(new ProbabilisticEvaluator(percentage).evaluate(makeTrace([{}], { traceId }), ctx)).toBe(expected);
  });

  it('gives a different salt different traces', () => {
    // Same id, same percentage: sampled with one salt, not with the other.
    const trace = makeTrace([{}], { traceId: IDS[1] });
    expect(new ProbabilisticEvaluator(5, 'test-salt').evaluate(trace, ctx)).toBe('sampled');
    expect(new ProbabilisticEvaluator(5).evaluate(trace, ctx)).toBe('not_sampled');
  });

  it('keeps close to the configured share over many trace ids', () => {
    let state = 12345;
    const next = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state.toString(16).padStart(8, '0');
    };
    const evaluator = new ProbabilisticEvaluator(25);
    let sampled = 0;
    const total = 20_000;
    for (let i = 0; i < total; i++) {
      const traceId = next() + next() + next() + next();
      if (evaluator.evaluate(makeTrace([{}], { traceId }), ctx) === 'sampled') sampled++;
    }
    expect(sampled / total).toBeGreaterThan(0.24);
    expect(sampled / total).toBeLessThan(0.26);
  });

  it('reports its share for the sample rate', () => {
    expect(new ProbabilisticEvaluator(5).keepProbability).toBe(0.05);
    expect(new ProbabilisticEvaluator(100).keepProbability).toBe(1);
    expect(new ProbabilisticEvaluator(0).keepProbability).toBeUndefined();
  });
});
