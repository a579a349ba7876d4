import type {
  AppendOutcome,
  CompletedTrace,
  CompletionSettings,
  DueTrace,
  LateFragment,
  PendingCounts,
  RecordedDecision,
  TraceBuffer,
} from '../trace-buffer.js';
import type { StoredFragment, TraceFragment } from '../../otlp/types.js';
import { DecisionCache } from '../decision-cache.js';
import { DueHeap } from './due-heap.js';

interface PendingTrace {
  readonly traceId: string;
  /** As appended: a fragment split from a request keeps it and its span views until decided. */
  readonly fragments: StoredFragment[];
  spanCount: number;
  byteCount: number;
  readonly firstSeenMs: number;
  dueMs: number;
  /** Fragments handed out by the current claim; undefined when not claimed. */
  claimedFragments: number | undefined;
}

/** Retry-After bounds for a full buffer: soon enough to keep clients flowing, not a busy loop. */
const MIN_RETRY_AFTER_MS = 1_000;
const MAX_RETRY_AFTER_MS = 30_000;

/** The in-process TraceBuffer: the embedded default and the reference for the Redis one. */
export class MemoryTraceBuffer implements TraceBuffer {
  private readonly traces = new Map<string, PendingTrace>();
  private readonly heap = new DueHeap();
  private readonly decisions: DecisionCache;
  private pendingSpans = 0;

  constructor(private readonly settings: CompletionSettings) {
    this.decisions = new DecisionCache(settings.sampledCacheSize, settings.nonSampledCacheSize);
  }

  async append(fragments: readonly TraceFragment[], nowMs: number): Promise<AppendOutcome> {
    let newTraces = 0;
    const seen = new Set<string>();
    for (const f of fragments) {
      if (seen.has(f.traceId)) continue;
      seen.add(f.traceId);
      if (!this.traces.has(f.traceId) && this.decisions.get(f.traceId) === undefined) newTraces++;
    }
    // A call with more new traces than num_traces would never fit: an empty buffer takes it
    // (the bound becomes the larger of the two) instead of refusing it forever.
    if (newTraces > 0 && this.traces.size > 0 && this.traces.size + newTraces > this.settings.maxTraces) {
      return {
        status: 'full',
        reason: `trace buffer full: ${this.traces.size} undecided traces of ${this.settings.maxTraces} (num_traces)`,
        retryAfterMs: this.retryAfter(nowMs),
      };
    }

    const late: LateFragment[] = [];
    for (const f of fragments) {
      const decided = this.decisions.get(f.traceId);
      if (decided !== undefined && !this.traces.has(f.traceId)) {
        late.push({ fragment: f, decision: decided });
        continue;
      }
      this.add(f, nowMs);
    }
    return { status: 'accepted', late };
  }

  private add(f: TraceFragment, nowMs: number): void {
    const s = this.settings;
    let t = this.traces.get(f.traceId);
    if (t === undefined) {
      t = {
        traceId: f.traceId,
        fragments: [],
        spanCount: 0,
        byteCount: 0,
        firstSeenMs: nowMs,
        dueMs: nowMs + s.decisionWaitMs,
        claimedFragments: undefined,
      };
      this.traces.set(f.traceId, t);
      this.heap.push(t.dueMs, t.traceId);
    }
    t.fragments.push(f);
    t.spanCount += f.spanCount;
    t.byteCount += f.byteLength;
    this.pendingSpans += f.spanCount;

    let due = t.dueMs;
    if (f.hasRoot && s.decisionWaitAfterRootMs !== undefined) due = Math.min(due, nowMs + s.decisionWaitAfterRootMs);
    if (t.spanCount >= s.maxSpansPerTrace) due = Math.min(due, nowMs);
    if (s.maxTraceBytes !== undefined && t.byteCount > s.maxTraceBytes) due = Math.min(due, nowMs);
    if (due < t.dueMs) {
      t.dueMs = due;
      if (t.claimedFragments === undefined) this.heap.push(due, t.traceId);
    }
  }

  async claimDue(nowMs: number, max: number): Promise<DueTrace[]> {
    const out: DueTrace[] = [];
    while (out.length < max && this.heap.size > 0) {
      const due = this.heap.peekDue() as number;
      if (due > nowMs) break;
      const id = this.heap.peekId() as string;
      this.heap.pop();
      const t = this.traces.get(id);
      // Stale heap entry: decided, claimed, or its due time moved since it was pushed.
      if (t === undefined || t.claimedFragments !== undefined || t.dueMs !== due) continue;
      t.claimedFragments = t.fragments.length;
      out.push({
        traceId: t.traceId,
        fragments: t.fragments.slice(),
        spanCount: t.spanCount,
        firstSeenMs: t.firstSeenMs,
        dueMs: t.dueMs,
      });
    }
    return out;
  }

  async complete(trace: DueTrace, decision: RecordedDecision, _nowMs: number): Promise<Uint8Array[]> {
    this.decisions.set(trace.traceId, decision);
    const t = this.traces.get(trace.traceId);
    if (t === undefined) return [];
    this.traces.delete(trace.traceId);
    this.pendingSpans -= t.spanCount;
    return t.fragments.slice(t.claimedFragments ?? t.fragments.length).map((f) => f.bytes);
  }

  async completeMany(decided: readonly CompletedTrace[], nowMs: number): Promise<Uint8Array[][]> {
    const out: Uint8Array[][] = [];
    for (const d of decided) out.push(await this.complete(d.trace, d.decision, nowMs));
    return out;
  }

  async release(trace: DueTrace, retryAtMs: number): Promise<void> {
    const t = this.traces.get(trace.traceId);
    if (t === undefined || t.claimedFragments === undefined) return;
    t.claimedFragments = undefined;
    t.dueMs = retryAtMs;
    this.heap.push(retryAtMs, t.traceId);
  }

  async pending(): Promise<PendingCounts> {
    return { traces: this.traces.size, spans: this.pendingSpans };
  }

  async nextDueMs(): Promise<number | undefined> {
    while (this.heap.size > 0) {
      const due = this.heap.peekDue() as number;
      const t = this.traces.get(this.heap.peekId() as string);
      if (t !== undefined && t.claimedFragments === undefined && t.dueMs === due) return due;
      this.heap.pop();
    }
    return undefined;
  }

  async close(): Promise<void> {
    // Nothing to release: the buffer lives and dies with the process.
  }

  private retryAfter(nowMs: number): number {
    const next = this.heap.peekDue();
    const wait = next === undefined ? MIN_RETRY_AFTER_MS : next - nowMs;
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, Math.ceil(wait)));
  }
}
