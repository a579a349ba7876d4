import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SinkError, type TailsiftError } from '../../src/errors.js';
import { backoffDelayMs, nextRetryDelayMs, parseRetryAfter, runWithRetry, type RetrySettings } from '../../src/forward/retry.js';

const settings: RetrySettings = { initialMs: 100, maxMs: 2_000, maxElapsedMs: 10_000, multiplier: 2, jitter: 0.5 };
const noJitter = (): number => 0;

describe('backoffDelayMs', () => {
  it('grows by the multiplier from initialMs', () => {
    expect([0, 1, 2, 3, 4].map((i) => backoffDelayMs(settings, i, noJitter))).toEqual([100, 200, 400, 800, 1600]);
  });

  it('is capped at maxMs', () => {
    expect(backoffDelayMs(settings, 5, noJitter)).toBe(2_000);
    expect(backoffDelayMs(settings, 60, noJitter)).toBe(2_000);
    expect(backoffDelayMs(settings, 5_000, noJitter)).toBe(2_000);
  });

  it('takes off at most the jitter share, never adds', () => {
    expect(backoffDelayMs(settings, 2, () => 0.999_999)).toBeCloseTo(200, 2);
    expect(backoffDelayMs(settings, 2, () => 0.5)).toBe(300);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 80 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialMs, extra, multiplier, jitter, index, u) => {
          const s = { initialMs, maxMs: initialMs + extra, maxElapsedMs: 1e9, multiplier, jitter };
          const full = Math.min(s.maxMs, initialMs * multiplier ** index);
          const d = backoffDelayMs(s, index, () => u);
          expect(d).toBeLessThanOrEqual(full);
          expect(d).toBeLessThanOrEqual(s.maxMs);
          expect(d).toBeGreaterThanOrEqual(full * (1 - jitter) - 1e-9);
        },
      ),
    );
  });

  it('spreads delays across the jitter range with real randomness', () => {
    const delays = Array.from({ length: 200 }, () => backoffDelayMs(settings, 3));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...delays)).toBeLessThanOrEqual(800);
    expect(new Set(delays).size).toBeGreaterThan(100);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 3 ', now)).toBe(3_000);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads an HTTP date relative to now; a past date means now', () => {
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Sat, 01 Mar 2025 11:59:00 GMT', now)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    for (const value of [null, undefined, '', 'soon', '-5', '1.5', '2025-03-01T12:00:10Z', 'Sat, 99 Foo 2025']) {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    }
  });
});

describe('nextRetryDelayMs', () => {
  it('uses the backoff delay while within maxElapsedMs, then gives up', () => {
    expect(nextRetryDelayMs(settings, { retryIndex: 1, elapsedMs: 0 }, noJitter)).toBe(200);
    expect(nextRetryDelayMs(settings, { retryIndex: 1, elapsedMs: 9_800 }, noJitter)).toBe(200);
    expect(nextRetryDelayMs(settings, { retryIndex: 1, elapsedMs: 9_801 }, noJitter)).toBeUndefined();
  });

  it('lets a Retry-After replace the backoff, beyond maxMs, but not beyond maxElapsedMs', () => {
    expect(nextRetryDelayMs(settings, { retryIndex: 0, elapsedMs: 0, retryAfterMs: 5_000 }, noJitter)).toBe(5_000);
    expect(nextRetryDelayMs(settings, { retryIndex: 0, elapsedMs: 6_000, retryAfterMs: 5_000 }, noJitter)).toBeUndefined();
  });
});

describe('runWithRetry', () => {
  function fakeTime(): { now: () => number; sleep: (ms: number) => Promise<void>; sleeps: number[] } {
    let t = 0;
    const sleeps: number[] = [];
    return {
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
      sleeps,
    };
  }
  const retriable = (retryAfterMs?: number): SinkError =>
    new SinkError('test', 'unavailable', { retriable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

  it('retries retriable failures with growing delays until an attempt succeeds', async () => {
    const time = fakeTime();
    const attempts: number[] = [];
    const result = await runWithRetry(
      async (n) => {
        attempts.push(n);
        if (n < 4) throw retriable();
        return 'done';
      },
      settings,
      { ...time, random: noJitter },
    );
    expect(result).toBe('done');
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(time.sleeps).toEqual([100, 200, 400]);
  });

  it('waits what the destination asked for', async () => {
    const time = fakeTime();
    await runWithRetry(
      async (n) => {
        if (n === 1) throw retriable(1_500);
      },
      settings,
      { ...time, random: noJitter },
    );
    expect(time.sleeps).toEqual([1_500]);
  });

  it('does not retry a failure that is not retriable, nor a foreign error', async () => {
    const time = fakeTime();
    let calls = 0;
    const permanent = new SinkError('test', 'HTTP 400', { retriable: false });
    await expect(
      runWithRetry(
        async () => {
          calls++;
          throw permanent;
        },
        settings,
        time,
      ),
    ).rejects.toBe(permanent);
    const bug = new TypeError('bug');
    await expect(
      runWithRetry(
        async () => {
          calls++;
          throw bug;
        },
        settings,
        time,
      ),
    ).rejects.toBe(bug);
    expect(calls).toBe(2);
    expect(time.sleeps).toEqual([]);
  });

  it('gives up once the next wait would pass maxElapsedMs, through giveUp', async () => {
    const time = fakeTime();
    let calls = 0;
    const error = await runWithRetry(
      async () => {
        calls++;
        throw retriable();
      },
      { initialMs: 100, maxMs: 1_000, maxElapsedMs: 2_000, multiplier: 2, jitter: 0 },
      {
        ...time,
        giveUp: (last: TailsiftError, attempts: number, elapsedMs: number) =>
          new SinkError('test', `gave up after ${attempts} attempts in ${elapsedMs} ms`, { retriable: true, cause: last }),
      },
    ).catch((err: unknown) => err as SinkError);
    // 100 + 200 + 400 + 800 = 1500 elapsed; the next 1000 would end past 2000.
    expect(time.sleeps).toEqual([100, 200, 400, 800]);
    expect(calls).toBe(5);
    expect(error.message).toBe('test: gave up after 5 attempts in 1500 ms');
    expect(error.retriable).toBe(true);
  });
});
