import { describe, expect, it } from 'vitest';
import type { CompletionSettings, TraceBuffer } from '../../src/buffer/trace-buffer.js';
import type { TraceFragment } from '../../src/otlp/types.js';

/**
 * The TraceBuffer contract, run against every implementation (memory, Redis). The buffer
 * treats fragment bytes as opaque, so fragments here carry marker bytes to follow them.
 */
export const contractSettings: CompletionSettings = {
  decisionWaitMs: 10_000,
  decisionWaitAfterRootMs: 2_000,
  maxSpansPerTrace: 100,
  maxTraces: 5,
  sampledCacheSize: 3,
  nonSampledCacheSize: 3,
};

let counter = 0;
export function traceId(n: number): string {
  return n.toString(16).padStart(32, '0');
}

export function fragment(id: string, spanCount = 1, hasRoot = false): TraceFragment {
  counter++;
  const bytes = Uint8Array.from([counter & 0xff, (counter >> 8) & 0xff, spanCount]);
  return { traceId: id, bytes, byteLength: bytes.length, spanCount, hasRoot };
}

const keep = { keep: true, policy: 'errors' } as const;
const drop = { keep: false, policy: undefined } as const;

export function describeTraceBufferContract(
  name: string,
  make: (settings: CompletionSettings) => Promise<TraceBuffer>,
): void {
  describe(`${name}: TraceBuffer contract`, () => {
    const T0 = 1_700_000_000_000;

    it('makes a trace due decision_wait after its first span, not before', async () => {
      const b = await make(contractSettings);
      const a = fragment(traceId(1));
      expect((await b.append([a], T0)).status).toBe('accepted');
      await b.append([fragment(traceId(1), 2)], T0 + 5_000);
      expect(await b.claimDue(T0 + 9_999, 10)).toEqual([]);
      const due = await b.claimDue(T0 + 10_000, 10);
      expect(due).toHaveLength(1);
      expect(due[0].traceId).toBe(traceId(1));
      expect(due[0].spanCount).toBe(3);
      expect(due[0].fragments).toHaveLength(2);
      expect(Array.from(due[0].fragments[0].bytes)).toEqual(Array.from(a.bytes));
      expect(due[0].fragments[0].byteLength).toBe(a.bytes.length);
      expect(due[0].firstSeenMs).toBe(T0);
      expect(due[0].dueMs).toBe(T0 + 10_000);
      await b.close();
    });

    it('decides decision_wait_after_root_received after the root span when that is earlier', async () => {
      const b = await make(contractSettings);
      await b.append([fragment(traceId(1))], T0);
      await b.append([fragment(traceId(1), 1, true)], T0 + 1_000);
      expect(await b.claimDue(T0 + 2_999, 10)).toEqual([]);
      const due = await b.claimDue(T0 + 3_000, 10);
      expect(due.map((d) => d.traceId)).toEqual([traceId(1)]);
      expect(due[0].dueMs).toBe(T0 + 3_000);
      // A root arriving late never postpones the decision.
      await b.append([fragment(traceId(2))], T0);
      await b.append([fragment(traceId(2), 1, true)], T0 + 9_500);
      expect((await b.claimDue(T0 + 10_000, 10)).map((d) => d.traceId)).toEqual([traceId(2)]);
      await b.close();
    });

    it('makes a trace due at once when it reaches the span limit', async () => {
      const b = await make(contractSettings);
      await b.append([fragment(traceId(1), 60)], T0);
      expect(await b.claimDue(T0 + 1, 10)).toEqual([]);
      await b.append([fragment(traceId(1), 40)], T0 + 100);
      const due = await b.claimDue(T0 + 100, 10);
      expect(due.map((d) => [d.traceId, d.spanCount])).toEqual([[traceId(1), 100]]);
      await b.close();
    });

    it('claims oldest due first, at most max, and never the same trace twice', async () => {
      const b = await make(contractSettings);
      await b.append([fragment(traceId(3))], T0 + 2);
      await b.append([fragment(traceId(1))], T0);
      await b.append([fragment(traceId(2))], T0 + 1);
      const first = await b.claimDue(T0 + 20_000, 2);
      expect(first.map((d) => d.traceId)).toEqual([traceId(1), traceId(2)]);
      const second = await b.claimDue(T0 + 20_000, 10);
      expect(second.map((d) => d.traceId)).toEqual([traceId(3)]);
      expect(await b.claimDue(T0 + 20_000, 10)).toEqual([]);
      await b.close();
    });

    it('refuses new traces when full without evicting, and still takes spans of buffered traces', async () => {
      const b = await make(contractSettings);
      for (let i = 1; i <= 5; i++) expect((await b.append([fragment(traceId(i))], T0)).status).toBe('accepted');
      const refused = await b.append([fragment(traceId(1)), fragment(traceId(6))], T0 + 10);
      expect(refused.status).toBe('full');
      if (refused.status === 'full') {
        expect(refused.retryAfterMs).toBeGreaterThanOrEqual(1_000);
        expect(refused.reason).toMatch(/full/);
      }
      // All or nothing: the refused request added nothing, not even the known trace's span.
      expect(await b.pending()).toEqual({ traces: 5, spans: 5 });
      expect((await b.append([fragment(traceId(1), 2)], T0 + 10)).status).toBe('accepted');
      expect(await b.pending()).toEqual({ traces: 5, spans: 7 });
      const due = await b.claimDue(T0 + 10_000, 10);
      expect(due).toHaveLength(5);
      for (const d of due) await b.complete(d, drop, T0 + 10_000);
      expect((await b.append([fragment(traceId(6))], T0 + 10_001)).status).toBe('accepted');
      await b.close();
    });

    it('takes a call with more new traces than num_traces into an empty buffer, never into a busy one', async () => {
      const b = await make(contractSettings);
      const oversized = Array.from({ length: 7 }, (_, i) => fragment(traceId(10 + i)));
      // Refused forever otherwise: no amount of deciding makes room for more than num_traces.
      expect((await b.append(oversized, T0)).status).toBe('accepted');
      expect(await b.pending()).toEqual({ traces: 7, spans: 7 });
      expect((await b.append([fragment(traceId(1))], T0 + 10)).status).toBe('full');
      const due = await b.claimDue(T0 + 10_000, 10);
      for (const d of due) await b.complete(d, drop, T0 + 10_000);
      expect((await b.append([fragment(traceId(1))], T0 + 10_001)).status).toBe('accepted');
      expect((await b.append(Array.from({ length: 7 }, (_, i) => fragment(traceId(20 + i))), T0 + 10_002)).status).toBe('full');
      await b.close();
    });

    it('hands late spans of a decided trace back with the recorded decision', async () => {
      const b = await make(contractSettings);
      await b.append([fragment(traceId(1)), fragment(traceId(2))], T0);
      const due = await b.claimDue(T0 + 10_000, 10);
      const byId = new Map(due.map((d) => [d.traceId, d]));
      expect(await b.complete(byId.get(traceId(1))!, keep, T0 + 10_000)).toEqual([]);
      expect(await b.complete(byId.get(traceId(2))!, drop, T0 + 10_000)).toEqual([]);
      const late1 = fragment(traceId(1));
      const out = await b.append([late1, fragment(traceId(2)), fragment(traceId(3))], T0 + 11_000);
      expect(out.status).toBe('accepted');
      if (out.status !== 'accepted') return;
      expect(out.late.map((l) => [l.fragment.traceId, l.decision.keep, l.decision.policy])).toEqual([
        [traceId(1), true, 'errors'],
        [traceId(2), false, undefined],
      ]);
      expect(Array.from(out.late[0].fragment.bytes)).toEqual(Array.from(late1.bytes));
      expect(await b.pending()).toEqual({ traces: 1, spans: 1 });
      await b.close();
    });

    it('returns spans that arrived between claim and decision from complete', async () => {
      const b = await make(contractSettings);
      await b.append([fragment(traceId(1))], T0);
      const [d] = await b.claimDue(T0 + 10_000, 10);
      const mid = fragment(traceId(1), 4);
      await b.append([mid], T0 + 10_001);
      const left = await b.complete(d, keep, T0 + 10_002);
      expect(left.map((x) => Array.from(x))).toEqual([Array.from(mid.bytes)]);
      expect(await b.pending()).toEqual({ traces: 0, spans: 0 });
      await b.close();
    });

    it('records many decisions at once with completeMany, each trace with its own late spans', async () => {
      const b = await make(contractSettings);
      for (let i = 1; i <= 3; i++) await b.append([fragment(traceId(i))], T0);
      const due = await b.claimDue(T0 + 10_000, 10);
      const byId = new Map(due.map((d) => [d.traceId, d]));
      const mid = fragment(traceId(3), 2);
      await b.append([mid], T0 + 10_001);
      const late = await b.completeMany(
        [
          { trace: byId.get(traceId(3))!, decision: keep },
          { trace: byId.get(traceId(1))!, decision: drop },
          { trace: byId.get(traceId(2))!, decision: keep },
        ],
        T0 + 10_002,
      );
      expect(late.map((l) => l.map((x) => Array.from(x)))).toEqual([[Array.from(mid.bytes)], [], []]);
      expect(await b.pending()).toEqual({ traces: 0, spans: 0 });
      const out = await b.append([fragment(traceId(1)), fragment(traceId(2)), fragment(traceId(3))], T0 + 10_500);
      if (out.status !== 'accepted') throw new Error('expected accepted');
      expect(out.late.map((l) => [l.fragment.traceId, l.decision.keep])).toEqual([
        [traceId(1), false],
        [traceId(2), true],
        [traceId(3), true],
      ]);
      expect(await b.completeMany([], T0 + 10_600)).toEqual([]);
      await b.close();
    });

    it('makes a released trace due again at the retry time with the spans it gained', async () => {
      const b = await make(contractSettings);
      await b.append([fragment(traceId(1))], T0);
      const [d] = await b.claimDue(T0 + 10_000, 10);
      await b.append([fragment(traceId(1))], T0 + 10_001);
      await b.release(d, T0 + 15_000);
      expect(await b.claimDue(T0 + 14_999, 10)).toEqual([]);
      const again = await b.claimDue(T0 + 15_000, 10);
      expect(again.map((x) => [x.traceId, x.fragments.length, x.spanCount])).toEqual([[traceId(1), 2, 2]]);
      await b.close();
    });

    it('reports the next due time of unclaimed traces', async () => {
      const b = await make(contractSettings);
      expect(await b.nextDueMs()).toBeUndefined();
      await b.append([fragment(traceId(1))], T0 + 500);
      await b.append([fragment(traceId(2))], T0);
      expect(await b.nextDueMs()).toBe(T0 + 10_000);
      await b.claimDue(T0 + 10_000, 1);
      expect(await b.nextDueMs()).toBe(T0 + 10_500);
      await b.close();
    });

    it('forgets the oldest decisions past the cache bound', async () => {
      const b = await make(contractSettings);
      for (let i = 1; i <= 4; i++) await b.append([fragment(traceId(i))], T0);
      for (const d of await b.claimDue(T0 + 10_000, 10)) await b.complete(d, keep, T0 + 10_000);
      const out = await b.append([fragment(traceId(1)), fragment(traceId(4))], T0 + 10_500);
      if (out.status !== 'accepted') throw new Error('expected accepted');
      // Cache of 3 kept decisions: trace 1 (oldest) is forgotten and starts anew.
      expect(out.late.map((l) => l.fragment.traceId)).toEqual([traceId(4)]);
      expect((await b.pending()).traces).toBe(1);
      await b.close();
    });
  });
}
