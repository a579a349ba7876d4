import { describe, expect, it } from 'vitest';
import { ANOMALY_REASON_ATTRIBUTE, ANOMALY_SCORE_ATTRIBUTE } from '../../src/baselines/anomaly-attributes.js';
import { AnomalyEvaluator } from '../../src/policies/anomaly.js';
import { createEvaluator } from '../../src/policies/create-evaluator.js';
import { parsePolicyText } from '../../src/policies/policy-file.js';
import type { TraceView } from '../../src/policies/evaluator.js';
import { drawLatencyMs } from '../../src/generate/latency.js';
import { memoryBaselines, rngFor, runTraffic, span, T0 } from './synthetic-traffic.js';

const MIN = 60_000;

function traceOf(id: number, nowMs: number, chatMs: number): TraceView {
  const traceId = id.toString(16).padStart(32, '0');
  const spans = [
    span('api-gateway', 'POST /ask', chatMs + 20, { traceId, spanId: '000000000000000a', startMs: nowMs - chatMs - 20 }),
    span('llm-inference', 'chat', chatMs, { traceId, spanId: '000000000000000b', parentSpanId: '000000000000000a', startMs: nowMs - chatMs - 10 }),
  ];
  return { traceId, spans, byteSize: 200 };
}

describe('anomaly policy', () => {
  it('builds from a policy file and, on its own, learns from the traces it decides', () => {
    const loaded = parsePolicyText('policies:\n  - { name: unusual, type: anomaly, anomaly: { threshold: 3, min_samples: 100 } }\n', 'p.yaml');
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const rng = rngFor(30, 'policy');
    let kept = 0;
    let t = T0;
    for (let i = 1; i <= 3000; i++) {
      t += 200;
      const decision = loaded.policySet.decide(traceOf(i, t, drawLatencyMs(rng, { medianMs: 400, sigma: 0.25, tailShare: 0 })), { nowMs: t });
      if (decision.keep) kept += 1;
    }
    expect(kept / 3000).toBeLessThan(0.01);
    const slow = loaded.policySet.decide(traceOf(9999, t + 200, 4000), { nowMs: t + 200 });
    expect(slow).toEqual({ keep: true, policy: 'unusual' });
  });

  it('reads the shared baselines, and remembers why it kept a trace for its spans', () => {
    const baselines = memoryBaselines({ minSamples: 100 });
    const evaluator = createEvaluator({ name: 'unusual', type: 'anomaly', anomaly: { kinds: ['latency'], threshold: 3, min_samples: 100, window: 3_600_000 } }, [], { baselines });
    expect(evaluator).toBeInstanceOf(AnomalyEvaluator);
    runTraffic(baselines, rngFor(31, 'shared'), [{ service: 'llm-inference', name: 'chat', latency: { medianMs: 410, sigma: 0.2, tailShare: 0 }, rate: 10 }], T0, T0 + 10 * MIN);
    const now = T0 + 10 * MIN;
    const observedBefore = baselines.counters.spansObserved;
    const normal = traceOf(1, now, 420);
    const slow = traceOf(2, now, 2400);
    expect(evaluator.evaluate(normal, { nowMs: now })).toBe('not_sampled');
    expect(evaluator.evaluate(slow, { nowMs: now })).toBe('sampled');
    // The stage is fed at intake, not by the policy.
    expect(baselines.counters.spansObserved).toBe(observedBefore);
    expect(baselines.attributesFor(normal.traceId)).toEqual([]);
    const attrs = baselines.attributesFor(slow.traceId);
    expect(attrs.map((a) => a.key)).toEqual([ANOMALY_SCORE_ATTRIBUTE, ANOMALY_REASON_ATTRIBUTE]);
    expect(attrs[0].value).toBeGreaterThanOrEqual(3);
    expect(attrs[1].value).toMatch(/^llm-inference "chat" 2\.4s; baseline p50 4\d\dms p99 [56]\d\dms$/);
  });

  it('samples only the kinds it is given', () => {
    const baselines = memoryBaselines({ minSamples: 100 });
    runTraffic(baselines, rngFor(32, 'kinds'), [{ service: 'llm-inference', name: 'chat', latency: { medianMs: 410, sigma: 0.2, tailShare: 0 }, rate: 10 }], T0, T0 + 10 * MIN);
    const errorsOnly = new AnomalyEvaluator({ kinds: ['error'], threshold: 3, min_samples: 100, window: 3_600_000 }, baselines);
    expect(errorsOnly.evaluate(traceOf(3, T0 + 10 * MIN, 2400), { nowMs: T0 + 10 * MIN })).toBe('not_sampled');
  });
});
