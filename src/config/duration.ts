/**
 * Go-style durations (`500ms`, `1m30s`, `1.5h`), the format of the OpenTelemetry Collector's
 * config, so a pasted `decision_wait: 30s` means what it means there.
 *
 * Bare numbers are refused on purpose: the Collector decodes `decision_wait: 30` into
 * 30 nanoseconds without complaint, which is never what anyone meant.
 */

export type DurationResult = { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly error: string };

/** Milliseconds per unit. `µs` (micro sign) and `μs` (Greek mu) both appear in Go's parser. */
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const UNITS_TEXT = 'ns, us, ms, s, m, h';
const COMPONENT = /^(\d*)(?:\.(\d*))?([^\d.]*)/;

/** Go's limit: a time.Duration is an int64 of nanoseconds (about 292 years). */
const MAX_MS = 9_223_372_036_854.775;

/** Parses a Go duration string into milliseconds (fractions kept, e.g. `100us` → 0.1). */
export function parseDuration(input: unknown): DurationResult {
  if (typeof input === 'number') {
    return { ok: false, error: `${input} is a bare number, not a duration; add a unit, e.g. "${input}s" or "${input}ms"` };
  }
  if (typeof input !== 'string') {
    return { ok: false, error: `expected a duration such as "30s", got ${describeValue(input)}` };
  }
  const text = input;
  if (text === '') return { ok: false, error: 'empty duration; write e.g. "30s"' };

  let rest = text;
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '') return { ok: false, error: `invalid duration "${text}"` };
  if (/^\d+(\.\d*)?$|^\.\d+$/.test(rest)) {
    return { ok: false, error: `"${text}" has no unit; add one of ${UNITS_TEXT}, e.g. "${rest}s"` };
  }

  let total = 0;
  while (rest !== '') {
    const match = COMPONENT.exec(rest);
    const whole = match?.[1] ?? '';
    const fraction = match?.[2];
    const unit = match?.[3] ?? '';
    if (!match || (whole === '' && (fraction === undefined || fraction === ''))) {
      return { ok: false, error: `invalid duration "${text}": expected a number at "${rest}"` };
    }
    if (unit === '') {
      return { ok: false, error: `invalid duration "${text}": missing unit after "${match[0]}"; use one of ${UNITS_TEXT}` };
    }
    const perUnit = UNIT_MS[unit];
    if (perUnit === undefined) {
      return { ok: false, error: `invalid duration "${text}": unknown unit "${unit}"; use one of ${UNITS_TEXT}` };
    }
    const value = Number(`${whole === '' ? '0' : whole}.${fraction ?? ''}0`);
    total += value * perUnit;
    rest = rest.slice(match[0].length);
  }
  if (total > MAX_MS) return { ok: false, error: `duration "${text}" is too long (over 292 years)` };
  // Sub-microsecond noise from binary fractions (e.g. 1.1s) would show up in messages and comparisons.
  const ms = Math.round(total * 1e6) / 1e6;
  return { ok: true, ms: sign * ms };
}

/** Renders milliseconds back as a short Go-style duration (`1m30s`, `250ms`), for messages and docs. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1) return `${round(ms * 1000)}us`;
  if (ms < 1000) return `${round(ms)}ms`;
  let seconds = ms / 1000;
  let out = '';
  const hours = Math.floor(seconds / 3600);
  if (hours > 0) {
    out += `${hours}h`;
    seconds -= hours * 3600;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes > 0) {
    out += `${minutes}m`;
    seconds -= minutes * 60;
  }
  if (seconds > 0 || out === '') out += `${round(seconds)}s`;
  return out;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}
