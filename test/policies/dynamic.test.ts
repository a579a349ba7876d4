import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DynamicEvaluator, OTHER_KEYS } from '../../src/policies/dynamic.js';
import type { DynamicOptions } from '../../src/policies/dynamic.js';
import { logShareSampleRates } from '../../src/policies/dynamic-sample-rates.js';
import type { TraceView } from '../../src/policies/evaluator.js';
import { parsePolicyText } from '../../src/policies/policy-file.js';
import { ProbabilisticEvaluator } from '../../src/policies/probabilistic.js';
import { TEST_BASE_MS, makeTrace } from '../support/trace-builder.js';

const INTERVAL_MS = 10_000;
let traceCounter = 0;

/** A well-spread trace id, different on every call. */
function nextTraceId(): string {
  return createHash('md5').update(`trace-${++traceCounter}`).digest('hex');
}

function request(route: string, status = 200, service = 'shop'): TraceView {
  return makeTrace(
    [
      { resource: { 'service.name': service }, attributes: { 'http.route': route, 'http.response.status_code': status } },
      { resource: { 'service.name': service }, parentSpanId: 'aaaaaaaaaaaaaaaa', attributes: { 'db.system': 'postgresql' } },
    ],
    { traceId: nextTraceId() },
  );
}

function dynamic(options: Partial<DynamicOptions> = {}): DynamicEvaluator {
  return new DynamicEvaluator({
    keyFields: ['service.name', 'http.route', 'http.response.status_code'],
    goal: { sampleRate: 10 },
    adjustmentIntervalMs: INTERVAL_MS,
    ...options,
  });
}

interface Tally {
  seen: number;
  kept: number;
  rates: Set<number>;
}

/**
 * Runs one adjustment interval: `perRoute[route]` traces of each route, interleaved, at
 * evenly spread times inside interval number `interval`. Returns what was kept per route.
 */
function runInterval(evaluator: DynamicEvaluator, interval: number, perRoute: Record<string, number>): Record<string, Tally> {
  const queue: string[] = [];
  const left = { ...perRoute };
  for (let more = true; more; ) {
    more = false;
    for (const route of Object.keys(left)) {
      if (left[route] > 0) {
        queue.push(route);
        left[route]--;
        more = true;
      }
    }
  }
  const tally: Record<string, Tally> = {};
  queue.forEach((route, i) => {
    const nowMs = TEST_BASE_MS + interval * INTERVAL_MS + Math.floor((i * INTERVAL_MS) / (queue.length + 1));
    const decision = evaluator.evaluate(request(route), { nowMs });
    const t = (tally[route] ??= { seen: 0, kept: 0, rates: new Set() });
    t.seen++;
    if (decision === 'sampled') t.kept++;
    t.rates.add(1 / (evaluator.keepProbability as number));
  });
  return tally;
}

describe('logShareSampleRates', () => {
  it.each([
    ['one key: the goal rate itself', { a: 1000 }, 100, { a: 10 }],
    ['keys seen once each: nothing to thin out', { a: 1, b: 1, c: 0.5 }, 0.3, { a: 1, b: 1, c: 1 }],
    ['a goal above the traffic: everything kept', { a: 50, b: 5 }, 1000, { a: 1, b: 1 }],
  ])('%s', (_, counts, goal, expected) => {
    expect(Object.fromEntries(logShareSampleRates(new Map(Object.entries(counts)), goal))).toEqual(expected);
  });

  it('keeps rare keys whole, thins frequent ones, and keeps about the goal in total', () => {
    const counts = new Map(Object.entries({ rare: 1, few: 10, many: 1_000, most: 100_000 }));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const rates = logShareSampleRates(counts, total / 50);
    expect(rates.get('rare')).toBe(1);
    expect(rates.get('few')).toBe(1);
    expect(rates.get('many') as number).toBeGreaterThan(1);
    expect(rates.get('most') as number).toBeGreaterThan(rates.get('many') as number);
    const kept = [...counts].reduce((sum, [key, count]) => sum + count / (rates.get(key) as number), 0);
    // Rounding rates up keeps a little less than the goal, never more.
    expect(kept).toBeLessThanOrEqual(total / 50);
    expect(kept).toBeGreaterThan((total / 50) * 0.9);
  });

  it('does not depend on the order the keys were counted in', () => {
    const entries: [string, number][] = [['x', 700], ['b', 30], ['m', 9000], ['a', 2]];
    const forward = logShareSampleRates(new Map(entries), 400);
    const backward = logShareSampleRates(new Map([...entries].reverse()), 400);
    expect(Object.fromEntries(backward)).toEqual(Object.fromEntries(forward));
  });
});

describe('dynamic', () => {
  it('samples at the initial rate until the first adjustment', () => {
    const evaluator = dynamic();
    const tally = runInterval(evaluator, 0, { '/rare': 1, '/products': 500 });
    expect(tally['/rare'].rates).toEqual(new Set([10]));
    expect(tally['/products'].rates).toEqual(new Set([10]));
    expect(evaluator.sampleRates()).toBeUndefined();
  });

  it('always keeps a rare key once it has learnt the traffic', () => {
    const evaluator = dynamic();
    for (let interval = 0; interval < 6; interval++) {
      const tally = runInterval(evaluator, interval, { '/products': 2_000, '/cart': 200, '/refund': 1 });
      if (interval === 0) continue;
      expect(tally['/refund']).toEqual({ seen: 1, kept: 1, rates: new Set([1]) });
      expect(Math.min(...tally['/products'].rates)).toBeGreaterThan(Math.max(...tally['/cart'].rates));
    }
  });

  it('keeps a trace of a key it has never seen, at rate 1', () => {
    const evaluator = dynamic();
    runInterval(evaluator, 0, { '/products': 1_000 });
    runInterval(evaluator, 1, { '/products': 1_000 });
    const tally = runInterval(evaluator, 2, { '/products': 1_000, '/brand-new': 3 });
    expect(tally['/brand-new']).toEqual({ seen: 3, kept: 3, rates: new Set([1]) });
  });

  it.each([
    ['goal_sample_rate 10', { goal: { sampleRate: 10 } }, 0.1],
    ['goal_sample_rate 40', { goal: { sampleRate: 40 } }, 0.025],
    ['goal_throughput_per_sec 5 (50 per 10s interval)', { goal: { throughputPerSec: 5 } }, 50 / 3_333],
  ] as const)('converges to the goal: %s', (_, options, share) => {
    const evaluator = dynamic(options);
    const traffic = { '/products': 3_000, '/cart': 300, '/checkout': 30, '/refund': 3 };
    let last: Record<string, Tally> = {};
    for (let interval = 0; interval < 8; interval++) last = runInterval(evaluator, interval, traffic);
    const seen = Object.values(last).reduce((n, t) => n + t.seen, 0);
    expect(seen).toBe(3_333);
    // The rates aim at the goal; rounding them up to whole numbers keeps a little less.
    const aimed = Object.values(last).reduce((n, t) => {
      expect(t.rates.size).toBe(1);
      return n + t.seen / [...t.rates][0];
    }, 0);
    expect(aimed / seen).toBeGreaterThan(share * 0.85);
    expect(aimed / seen).toBeLessThanOrEqual(share * 1.01);
    // The hash picks which traces, so what is kept scatters around that.
    const kept = Object.values(last).reduce((n, t) => n + t.kept, 0);
    expect(kept / seen).toBeGreaterThan(share * 0.6);
    expect(kept / seen).toBeLessThan(share * 1.4);
    // The most frequent route carries most of the thinning.
    expect(Math.min(...last['/products'].rates)).toBeGreaterThan(Math.max(...last['/refund'].rates));
  });

  it('lets the counts of a key that went quiet decay until its traces are rare again', () => {
    const evaluator = dynamic();
    runInterval(evaluator, 0, { '/products': 1_000, '/export': 1_000 });
    runInterval(evaluator, 1, { '/products': 1_000, '/export': 1_000 });
    const exportKey = evaluator.keyOf(request('/export'));
    expect(evaluator.sampleRates()?.get(exportKey) as number).toBeGreaterThan(1);
    // /export stops; with weight 0.5 its average halves each interval (1000 → ... → below 0.5).
    const ratesSeen: number[] = [];
    for (let interval = 2; interval < 16; interval++) {
      runInterval(evaluator, interval, { '/products': 1_000 });
      ratesSeen.push(evaluator.sampleRates()?.get(exportKey) ?? 1);
    }
    // Every step its rate falls or stays; in the end it is forgotten.
    ratesSeen.forEach((rate, i) => {
      if (i > 0) expect(rate).toBeLessThanOrEqual(ratesSeen[i - 1]);
    });
    expect(evaluator.sampleRates()?.has(exportKey)).toBe(false);
    const tally = runInterval(evaluator, 16, { '/products': 1_000, '/export': 1 });
    expect(tally['/export']).toEqual({ seen: 1, kept: 1, rates: new Set([1]) });
  });

  it('learns nothing from intervals without traffic: a pause does not wear the averages down', () => {
    const before = { '/products': 1_000, '/cart': 50 };
    const after = { '/products': 1_000, '/cart': 50, '/export': 300 };
    const steady = dynamic();
    const paused = dynamic();
    for (const evaluator of [steady, paused]) {
      runInterval(evaluator, 0, before);
      runInterval(evaluator, 1, before);
    }
    // The same traffic follows at once, or after eight silent intervals.
    runInterval(steady, 2, after);
    runInterval(paused, 10, after);
    expect(new Map(paused.sampleRates())).toEqual(new Map(steady.sampleRates()));
    runInterval(steady, 3, { '/products': 1 });
    runInterval(paused, 11, { '/products': 1 });
    expect(steady.sampleRates()?.has(steady.keyOf(request('/export')))).toBe(true);
    expect(new Map(paused.sampleRates())).toEqual(new Map(steady.sampleRates()));
  });

  it('decides like the probabilistic policy at 100 / rate: the same trace and rate, the same decision', () => {
    const evaluator = dynamic({ hashSalt: 'salt-1' });
    runInterval(evaluator, 0, { '/products': 1_000 });
    runInterval(evaluator, 1, { '/products': 1_000 });
    const rate = evaluator.sampleRates()?.get(evaluator.keyOf(request('/products'))) as number;
    expect(rate).toBeGreaterThan(1);
    const reference = new ProbabilisticEvaluator(100 / rate, 'salt-1');
    const ctx = { nowMs: TEST_BASE_MS + 2 * INTERVAL_MS + 1 };
    for (let i = 0; i < 200; i++) {
      const trace = request('/products');
      expect(evaluator.evaluate(trace, ctx)).toBe(reference.evaluate(trace, ctx));
      expect(evaluator.evaluate(trace, ctx)).toBe(reference.evaluate(trace, ctx));
    }
  });

  it('keys a trace by every distinct value of each field, from spans and resources', () => {
    const evaluator = dynamic({ keyFields: ['service.name', 'http.route'] });
    const trace = makeTrace([
      { resource: { 'service.name': 'web' }, attributes: { 'http.route': '/b' } },
      { resource: { 'service.name': 'api' }, attributes: { 'http.route': '/a' } },
      { resource: { 'service.name': 'web' }, attributes: { 'http.route': '/b' } },
    ]);
    expect(evaluator.keyOf(trace)).toBe('api,web•/a,/b');
    expect(evaluator.keyOf(makeTrace([{ attributes: { 'service.name': 'span-level' } }]))).toBe('span-level•');
  });

  it('counts keys past max_keys together, under one shared rate', () => {
    const evaluator = dynamic({ maxKeys: 2 });
    const traffic = { '/a': 500, '/b': 500, '/c': 500, '/d': 500 };
    runInterval(evaluator, 0, traffic);
    runInterval(evaluator, 1, traffic);
    const rates = evaluator.sampleRates() as ReadonlyMap<string, number>;
    expect([...rates.keys()].sort()).toEqual([OTHER_KEYS, evaluator.keyOf(request('/a')), evaluator.keyOf(request('/b'))].sort());
    expect(rates.get(OTHER_KEYS) as number).toBeGreaterThan(rates.get(evaluator.keyOf(request('/a'))) as number);
    const tally = runInterval(evaluator, 2, traffic);
    expect(tally['/c'].rates).toEqual(new Set([rates.get(OTHER_KEYS)]));
  });

  it('keeps everything while traffic is under min_traces_per_sec', () => {
    const evaluator = dynamic({ minTracesPerSec: 50 });
    runInterval(evaluator, 0, { '/products': 400 });
    const tally = runInterval(evaluator, 1, { '/products': 400 });
    expect(tally['/products']).toMatchObject({ seen: 400, kept: 400, rates: new Set([1]) });
    // 1000 traces in interval 2 are enough: interval 3 thins them out.
    runInterval(evaluator, 2, { '/products': 1_000 });
    expect(Math.min(...runInterval(evaluator, 3, { '/products': 10 })['/products'].rates)).toBeGreaterThan(1);
  });
});

describe('dynamic in a policy file', () => {
  const file = (settings: string) => `policies:\n  - name: by-route\n    type: dynamic\n    dynamic: ${settings}\n`;

  it('reports the rate that kept a trace as its sample rate', () => {
    const result = parsePolicyText(file('{ key_fields: [http.route], goal_sample_rate: 25 }'), 'p.yaml');
    if (!result.ok) throw new Error(result.problems.join('\n'));
    let kept = 0;
    for (let i = 0; i < 500; i++) {
      const decision = result.policySet.decide(request('/products'), { nowMs: TEST_BASE_MS });
      if (!decision.keep) continue;
      kept++;
      expect(decision).toEqual({ keep: true, policy: 'by-route', sampleRate: 25 });
    }
    expect(kept).toBeGreaterThan(0);
  });

  it('multiplies the rate into an and, as it does for probabilistic', () => {
    const text = [
      'policies:',
      '  - name: half-of-dynamic',
      '    type: and',
      '    and:',
      '      and_sub_policy:',
      '        - { name: half, type: probabilistic, probabilistic: { sampling_percentage: 50 } }',
      '        - { name: dyn, type: dynamic, dynamic: { key_fields: [http.route], goal_sample_rate: 7 } }',
      '',
    ].join('\n');
    const result = parsePolicyText(text, 'p.yaml');
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const rates = new Set<number | undefined>();
    for (let i = 0; i < 500; i++) {
      const decision = result.policySet.decide(request('/products'), { nowMs: TEST_BASE_MS });
      if (decision.keep) rates.add(decision.sampleRate);
    }
    expect(rates).toEqual(new Set([14]));
  });

  it('fills in the defaults', () => {
    const result = parsePolicyText(file('{ key_fields: [http.route], goal_throughput_per_sec: 2.5 }'), 'p.yaml');
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(result.config.policies[0]).toEqual({
      name: 'by-route',
      type: 'dynamic',
      dynamic: { key_fields: ['http.route'], goal_throughput_per_sec: 2.5, adjustment_interval: 15_000, weight: 0.5, max_keys: 500, min_traces_per_sec: 0 },
    });
  });

  it.each([
    [
      'both goals',
      '{ key_fields: [a], goal_sample_rate: 5, goal_throughput_per_sec: 10 }',
      'goal_throughput_per_sec',
      'policies[0].dynamic.goal_throughput_per_sec: set goal_sample_rate or goal_throughput_per_sec, not both: one average rate, or one number of traces per second to keep',
    ],
    [
      'no goal',
      '{ key_fields: [a] }',
      'dynamic',
      'policies[0].dynamic: set goal_sample_rate (keep 1 in N traces on average) or goal_throughput_per_sec (traces per second to keep)',
    ],
    ['no key fields', '{ key_fields: [], goal_sample_rate: 5 }', '[]', 'policies[0].dynamic.key_fields: must not be empty'],
    ['a weight of 0', '{ key_fields: [a], goal_sample_rate: 5, weight: 0 }', '0 }', 'policies[0].dynamic.weight: 0 is too small; must be greater than 0'],
    [
      'a misspelt setting',
      '{ key_fields: [a], goal_sample_rate: 5, adjustment_intervall: 5s }',
      'adjustment_intervall',
      'policies[0].dynamic.adjustment_intervall: unknown key "adjustment_intervall"; did you mean "adjustment_interval"?',
    ],
  ])('refuses %s', (_, settings, at, problem) => {
    const text = file(settings);
    const line = text.split('\n')[3];
    const result = parsePolicyText(text, 'p.yaml');
    expect(result.ok ? [] : result.problems).toEqual([`p.yaml:4:${line.lastIndexOf(at) + 1}: ${problem}`]);
  });
});
