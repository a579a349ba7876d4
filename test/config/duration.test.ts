import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('parseDuration (Go time.ParseDuration syntax)', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1.s', 1000],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['100μs', 0.1],
    ['250000ns', 0.25],
    ['0s', 0],
    ['2h45m10.5s', 9_910_500],
    ['+5s', 5000],
    ['-1.5m', -90_000],
    ['1.1s', 1100],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    [30, '30 is a bare number, not a duration; add a unit, e.g. "30s" or "30ms"'],
    ['30', '"30" has no unit; add one of ns, us, ms, s, m, h, e.g. "30s"'],
    ['0', '"0" has no unit; add one of ns, us, ms, s, m, h, e.g. "0s"'],
    ['', 'empty duration; write e.g. "30s"'],
    ['5 s', 'invalid duration "5 s": unknown unit " s"; use one of ns, us, ms, s, m, h'],
    ['1m5', 'invalid duration "1m5": missing unit after "5"; use one of ns, us, ms, s, m, h'],
    ['5sec', 'invalid duration "5sec": unknown unit "sec"; use one of ns, us, ms, s, m, h'],
    ['1d', 'invalid duration "1d": unknown unit "d"; use one of ns, us, ms, s, m, h'],
    ['5S', 'invalid duration "5S": unknown unit "S"; use one of ns, us, ms, s, m, h'],
    ['s', 'invalid duration "s": expected a number at "s"'],
    ['1m.s', 'invalid duration "1m.s": expected a number at ".s"'],
    ['-', 'invalid duration "-"'],
    [true, 'expected a duration such as "30s", got boolean true'],
    [null, 'expected a duration such as "30s", got nothing'],
    ['300000000h', 'duration "300000000h" is too long (over 292 years)'],
  ])('%j is refused', (input, error) => {
    expect(parseDuration(input)).toEqual({ ok: false, error });
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [0.1, '100us'],
    [250, '250ms'],
    [1500, '1.5s'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [3_661_000, '1h1m1s'],
    [-2000, '-2s'],
  ])('%d ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1000, 61_000, 7_384_500]) {
      expect(parseDuration(formatDuration(ms))).toEqual({ ok: true, ms });
    }
  });
});
