import { describe, expect, it } from 'vitest';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { MemoryTraceBuffer } from '../../src/buffer/memory/memory-trace-buffer.js';
import { DecisionLoop } from '../../src/decide/decision-loop.js';
import type { KeptBatch, TraceSink } from '../../src/forward/sink.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import type { DecodedRequest } from '../../src/otlp/types.js';
import { POLICY_ATTRIBUTE, SAMPLE_RATE_ATTRIBUTE, decisionAttributes } from '../../src/policies/decision-attributes.js';
import type { PolicySet } from '../../src/policies/evaluator.js';
import { EngineStats } from '../../src/telemetry/engine-stats.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makeSdkSpans } from '../ingest/sdk-spans.js';

describe('decisionAttributes', () => {
  it.each([
    ['a policy that kept the trace for what it is', { keep: true, policy: 'errors' }, [{ key: 'tailsampling.policy', value: 'errors' }]],
    [
      'a random share: the rate too',
      { keep: true, policy: 'baseline', sampleRate: 20 },
      [
        { key: 'tailsampling.policy', value: 'baseline' },
        { key: 'tailsift.sample_rate', value: 20 },
      ],
    ],
    ['no policy named', { keep: true, policy: undefined }, []],
  ])('%s', (_, decision, expected) => {
    expect(decisionAttributes(decision)).toEqual(expected);
  });
});

class RecordingSink implements TraceSink {
  readonly name = 'recording';
  readonly received: DecodedRequest[] = [];
  async send(batch: KeptBatch): Promise<void> {
    const d = decodeProtobufRequest(batch.request);
    if (!d.ok) throw d.error;
    this.received.push(d.value);
  }
  async close(): Promise<void> {}
}

function request(traces: number, spansPerTrace: number): DecodedRequest {
  const d = decodeProtobufRequest(ProtobufTraceSerializer.serializeRequest(makeSdkSpans({ traces, spansPerTrace }))!);
  if (!d.ok) throw d.error;
  return d.value;
}

describe('kept traces leave the decision loop with their reasons on every span', () => {
  /** Keeps traces with an error as "errors"; keeps the rest as a 1-in-4 share. */
  const policies: PolicySet = {
    policyNames: ['errors', 'quarter'],
    decide: (trace) =>
      trace.spans.some((s) => s.statusCode === 2) ? { keep: true, policy: 'errors' } : { keep: true, policy: 'quarter', sampleRate: 4 },
  };

  function setup() {
    const sink = new RecordingSink();
    const buffer = new MemoryTraceBuffer({
      decisionWaitMs: 1_000,
      decisionWaitAfterRootMs: undefined,
      maxSpansPerTrace: 1_000,
      maxTraces: 100,
      sampledCacheSize: 100,
      nonSampledCacheSize: 100,
    });
    const loop = new DecisionLoop({
      buffer,
      policies: () => policies,
      sinks: [sink],
      clock: { now: () => 1_000_000 },
      stats: new EngineStats(),
      logger: silentLogger,
    });
    return { sink, buffer, loop };
  }

  it('names the policy, and the sample rate when a random share kept the trace', async () => {
    const { sink, buffer, loop } = setup();
    const withErrors = request(1, 3);
    const withoutErrors = request(1, 2);
    await buffer.append([...withErrors.fragments, ...withoutErrors.fragments], 1_000_000);
    await loop.runDue(1_001_000);

    const spans = sink.received.flatMap((r) => r.spans);
    expect(spans).toHaveLength(5);
    for (const span of spans) {
      const isErrorTrace = span.traceId === withErrors.spans[0].traceId;
      expect(span.attribute(POLICY_ATTRIBUTE)).toBe(isErrorTrace ? 'errors' : 'quarter');
      expect(span.attribute(SAMPLE_RATE_ATTRIBUTE)).toBe(isErrorTrace ? undefined : 4);
      expect(span.attribute('http.route') ?? span.attribute('db.system')).toBeDefined();
    }
  });

  it('names the recorded policy on late spans of a kept trace', async () => {
    const { sink, buffer, loop } = setup();
    const trace = request(1, 3);
    await buffer.append(trace.fragments, 1_000_000);
    await loop.runDue(1_001_000);
    const again = await buffer.append(trace.fragments, 1_002_000);
    if (again.status !== 'accepted') throw new Error('expected accepted');
    loop.acceptLate(again.late);
    await loop.runDue(1_002_100);

    expect(sink.received).toHaveLength(2);
    const late = sink.received[1].spans;
    expect(late).toHaveLength(3);
    for (const span of late) expect(span.attribute(POLICY_ATTRIBUTE)).toBe('errors');
  });
});
