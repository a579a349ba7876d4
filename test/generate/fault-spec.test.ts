import { describe, expect, it } from 'vitest';
import { parseFaultSpec } from '../../src/generate/faults.js';
import { GenerateUsageError } from '../../src/generate/usage-error.js';

describe('parseFaultSpec', () => {
  it.each([
    ['payment:latency=x5@10-20', { service: 'payment', effect: { kind: 'latency', factor: 5 }, startSeconds: 10, endSeconds: 20, share: 1 }],
    ['payment:latency=x2.5@0-30:share=0.3', { service: 'payment', effect: { kind: 'latency', factor: 2.5 }, startSeconds: 0, endSeconds: 30, share: 0.3 }],
    ['llm-inference:errors=0.2@5.5-9', { service: 'llm-inference', effect: { kind: 'errors' }, startSeconds: 5.5, endSeconds: 9, share: 0.2 }],
    ['cart:errors=1@0-1', { service: 'cart', effect: { kind: 'errors' }, startSeconds: 0, endSeconds: 1, share: 1 }],
    [
      'vector-search:dependency=embedding-cache@10-20',
      { service: 'vector-search', effect: { kind: 'dependency', service: 'embedding-cache', operation: 'call', latencyMs: 300 }, startSeconds: 10, endSeconds: 20, share: 1 },
    ],
    [
      'vector-search:dependency=embedding-cache/v1/lookup@10-20:latency=1.5s:share=0.4',
      { service: 'vector-search', effect: { kind: 'dependency', service: 'embedding-cache', operation: 'v1/lookup', latencyMs: 1500 }, startSeconds: 10, endSeconds: 20, share: 0.4 },
    ],
    [
      'cart:dependency=fraud-check/score@0-5:latency=250ms',
      { service: 'cart', effect: { kind: 'dependency', service: 'fraud-check', operation: 'score', latencyMs: 250 }, startSeconds: 0, endSeconds: 5, share: 1 },
    ],
  ])('parses %s', (text, expected) => {
    expect(parseFaultSpec(text)).toEqual({ label: text, ...expected });
  });

  it.each([
    ['payment', 'expected SERVICE:latency'],
    [':latency=x5@1-2', 'service ""'],
    ['payment:latency=x5', 'missing the @START-END window'],
    ['payment:latency=5@1-2', 'latency "5" must be a multiplier like x5'],
    ['payment:latency=x0@1-2', 'latency multiplier must be above 0'],
    ['payment:slow=x5@1-2', 'effect "slow=x5" must be latency=xN, errors=P or dependency=NEWSERVICE[/OPERATION]'],
    ['payment:dependency=@1-2', 'dependency "" is not a service name'],
    ['payment:dependency=payment/x@1-2', 'dependency payment must be another service'],
    ['payment:dependency=fraud/a b@1-2', 'dependency operation "a b" must be a path'],
    ['payment:dependency=fraud/@1-2', 'dependency operation "" must be a path'],
    ['payment:dependency=fraud@1-2:latency=300', 'latency "300" must be a duration like 300ms'],
    ['payment:dependency=fraud@1-2:latency=0ms', 'latency 0ms must be above 0'],
    ['payment:dependency=fraud@1-2:ratio=2', 'unknown option "ratio=2"; latency=DURATION and share=P are accepted'],
    ['payment:latency=x5@1-2:latency=300ms', 'unknown option "latency=300ms"; only share=P is accepted'],
    ['payment:errors=1.5@1-2', 'errors 1.5 must be above 0 and at most 1'],
    ['payment:errors=lots@1-2', 'errors "lots" must be a share'],
    ['payment:errors=0.2@1-2:share=0.5', 'share= does not apply to errors=P'],
    ['payment:latency=x5@1-2:share=2', 'share 2 must be above 0 and at most 1'],
    ['payment:latency=x5@1-2:ratio=0.5', 'unknown option "ratio=0.5"'],
    ['payment:latency=x5@20-10', 'window end (10) must be after its start (20)'],
    ['payment:latency=x5@a-10', 'window start "a" is not a number'],
    ['payment:latency=x5@10', 'window "10" must be START-END'],
  ])('rejects %s, naming the part that is wrong', (text, part) => {
    let caught: unknown;
    try {
      parseFaultSpec(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GenerateUsageError);
    expect((caught as Error).message).toContain(part);
    expect((caught as Error).message).toContain(`--fault ${JSON.stringify(text)}`);
  });
});
