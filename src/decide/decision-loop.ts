import type { Clock } from '../clock.js';
import type { CompletedTrace, DueTrace, LateFragment, TraceBuffer } from '../buffer/trace-buffer.js';
import type { PolicySet, TraceDecision } from '../policies/evaluator.js';
import type { KeptBatch, KeptTrace, TraceSink } from '../forward/sink.js';
import type { Logger } from '../telemetry/logger.js';
import { EngineStats } from '../telemetry/engine-stats.js';
import { decodeProtobufSpans } from '../otlp/decode-protobuf.js';
import type { SpanView, StoredFragment } from '../otlp/types.js';
import { concatRequests } from '../otlp/concat.js';
import { annotateSpans, type SpanAttribute } from '../otlp/annotate-spans.js';
import { decisionAttributes } from '../policies/decision-attributes.js';
import { SinkError } from '../errors.js';
import { distinctFragments } from './distinct-fragments.js';

export interface DecisionLoopOptions {
  readonly buffer: TraceBuffer;
  /** The current policies; a getter so a reload takes effect for traces decided after it. */
  readonly policies: () => PolicySet;
  readonly sinks: readonly TraceSink[];
  readonly clock: Clock;
  readonly stats: EngineStats;
  readonly logger: Logger;
  /** Traces claimed per round trip to the buffer. Default 500. */
  readonly batchSize?: number;
  /** Pause between checks for due traces, ms. Default 100. */
  readonly intervalMs?: number;
  /** How long a trace a sink could not take waits before it is tried again, ms. Default 5000. */
  readonly retryDelayMs?: number;
  /**
   * Called once per trace when its decision is recorded and it leaves the buffer: for a kept
   * trace that is after every sink accepted it. `decidedAtMs` is the clock at that moment,
   * `dueMs` when the trace became due. For measurements (the pipeline benchmark); unset costs
   * nothing.
   */
  readonly onDecided?: (traceId: string, decidedAtMs: number, dueMs: number, keep: boolean) => void;
  /** Called with the time the policies took to decide one trace, seconds (a metric); unset costs nothing. */
  readonly onPolicyEvaluation?: (seconds: number) => void;
  /** Extra attributes for every span of a kept trace besides the decision reasons (anomaly scores). */
  readonly keptAttributes?: (traceId: string) => readonly SpanAttribute[];
  /** Called for each kept trace once every sink accepted it, with its spans (alert exemplars). */
  readonly onKept?: (traceId: string, spans: readonly SpanView[], nowMs: number) => void;
  /**
   * The per-trace limits the buffer makes traces due with; a trace decided at or past one is
   * counted in `stats.tracesOverLimit` by the limit's policy-file name.
   */
  readonly limits?: { readonly maxSpansPerTrace?: number; readonly maxTraceBytes?: number };
}

/** Kept spans not yet accepted by the sinks. */
export interface SinkQueue {
  /** Kept late spans waiting to go out with the next batch (to every sink). */
  readonly lateSpans: number;
  /** Spans of batches a sink is sending now (its own retries included), by sink name. */
  readonly sending: ReadonlyMap<string, number>;
}

interface Decided {
  readonly due: DueTrace;
  /** The spans the policies saw (empty when not evaluated). */
  readonly views: readonly SpanView[];
  /** The trace's fragments without byte-identical repeats, and their span count. */
  readonly fragments: readonly StoredFragment[];
  readonly spans: number;
  readonly decision: TraceDecision;
}

/**
 * Claims due traces, evaluates the policies, forwards the kept ones and only then records the
 * decision, so that a trace leaves the buffer after every sink accepted it.
 */
export class DecisionLoop {
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly retryDelayMs: number;
  /** Kept late spans waiting to be forwarded with the next batch. */
  private lateKept: LateKept[] = [];
  /** Spans each sink is sending now, for `sinkQueue`. */
  private readonly sending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private dropAll = false;
  /** False without sinks (a replay without --out): kept spans are counted, never annotated or joined. */
  private readonly forwarding: boolean;

  /** The policy recorded for traces dropped unevaluated by `drain({ drop: true })`. */
  static readonly DROPPED_ON_SHUTDOWN = '(dropped on shutdown)';

  constructor(private readonly o: DecisionLoopOptions) {
    this.batchSize = o.batchSize ?? 500;
    this.intervalMs = o.intervalMs ?? 100;
    this.retryDelayMs = o.retryDelayMs ?? 5_000;
    this.forwarding = o.sinks.length > 0;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the timer and waits for the round in progress. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runDue(this.o.clock.now())
        .then(
          () => undefined,
          (err: unknown) => this.o.logger.error({ err }, 'decision round failed; retrying next round'),
        )
        .finally(() => this.schedule());
    }, this.intervalMs);
  }

  /** Decides every trace due at `nowMs`. Returns how many traces were decided. */
  async runDue(nowMs: number): Promise<number> {
    let decided = 0;
    for (;;) {
      const due = await this.o.buffer.claimDue(nowMs, this.batchSize);
      if (due.length > 0) decided += await this.decideBatch(due, nowMs);
      else await this.flushLate();
      if (due.length < this.batchSize) return decided;
    }
  }

  /**
   * Decides everything still pending, due or not (shutdown, end of replay). Stops early when
   * a sink keeps failing and says how many traces are left. With `drop` (the policy file's
   * `drop_pending_traces_on_shutdown`) every pending trace is recorded as dropped, under
   * DROPPED_ON_SHUTDOWN, without running the policies.
   */
  async drain(options: { readonly drop?: boolean } = {}): Promise<{ left: number }> {
    this.dropAll = options.drop ?? false;
    try {
      for (;;) {
        const retried = this.o.stats.tracesRetried;
        const decided = await this.runDue(Number.MAX_SAFE_INTEGER);
        if (decided === 0 || this.o.stats.tracesRetried > retried) break;
      }
    } finally {
      this.dropAll = false;
    }
    await this.flushLate();
    return { left: (await this.o.buffer.pending()).traces };
  }

  /** Kept spans waiting for the sinks right now. */
  sinkQueue(): SinkQueue {
    let lateSpans = 0;
    for (const l of this.lateKept) lateSpans += l.spans;
    return { lateSpans, sending: this.sending };
  }

  /** Forwards the kept late spans still queued (on shutdown, when pending traces stay in the buffer). */
  async flush(): Promise<void> {
    await this.flushLate();
  }

  /** Late spans found at intake: kept ones are forwarded with the next batch. */
  acceptLate(late: readonly LateFragment[]): void {
    for (const l of late) {
      if (l.decision.keep) {
        const traceId = l.fragment.traceId;
        if (this.forwarding) {
          this.lateKept.push({ traceId, bytes: annotateSpans(l.fragment.bytes, this.keptReasons(traceId, l.decision)), spans: l.fragment.spanCount });
        }
        this.o.stats.lateSpansKept += l.fragment.spanCount;
      } else {
        this.o.stats.lateSpansDropped += l.fragment.spanCount;
      }
    }
  }

  private async decideBatch(due: readonly DueTrace[], nowMs: number): Promise<number> {
    const { stats } = this.o;
    const policies = this.o.policies();
    const kept: Decided[] = [];
    const dropped: Decided[] = [];
    for (const d of due) {
      const { fragments, duplicates } = distinctFragments(d.fragments);
      let spans = d.spanCount;
      for (const dup of duplicates) spans -= dup.spans?.length ?? countSpans(dup.bytes);
      stats.duplicateSpans += d.spanCount - spans;
      if (this.o.limits !== undefined) this.countLimits(d.spanCount, fragments);
      const { decision, views } = this.dropAll
        ? { decision: { keep: false, policy: DecisionLoop.DROPPED_ON_SHUTDOWN }, views: [] }
        : this.evaluate(policies, d.traceId, fragments, nowMs);
      stats.recordDecisionDelay(nowMs - d.dueMs);
      (decision.keep ? kept : dropped).push({ due: d, views, fragments, spans, decision });
    }

    await this.finish(dropped, nowMs);
    if (kept.length === 0) return due.length;
    if (!this.forwarding) {
      await this.finish(kept, nowMs);
      return due.length;
    }

    const traces: KeptTrace[] = [];
    for (const k of kept) {
      const reasons = this.keptReasons(k.due.traceId, k.decision);
      traces.push({ traceId: k.due.traceId, fragments: k.fragments.map((f) => annotateSpans(f.bytes, reasons)), spanCount: k.spans });
    }
    const late = this.lateKept;
    this.lateKept = [];

    const outcome = await this.send(keptBatch(traces, late, kept.length));
    if (outcome === 'retry') {
      this.lateKept = late.concat(this.lateKept);
      await Promise.all(kept.map((k) => this.o.buffer.release(k.due, nowMs + this.retryDelayMs)));
      stats.tracesRetried += kept.length;
      return dropped.length;
    }
    await this.finish(kept, nowMs);
    return due.length;
  }

  private evaluate(
    policies: PolicySet,
    traceId: string,
    fragments: readonly StoredFragment[],
    nowMs: number,
  ): { decision: TraceDecision; views: readonly SpanView[] } {
    // The fragments are forwarded as they are, so only the span views are needed here: those
    // read at intake when the buffer kept them, else each fragment read where it lies.
    const views: SpanView[] = [];
    let byteSize = 0;
    for (const fragment of fragments) {
      byteSize += fragment.byteLength;
      if (fragment.spans !== undefined) {
        for (const span of fragment.spans) views.push(span);
        continue;
      }
      const decoded = decodeProtobufSpans(fragment.bytes);
      if (!decoded.ok) {
        // Fragments were decoded once at intake, so this means the buffer handed back bytes it
        // was not given. Dropping is the only safe outcome; it is counted and logged.
        this.o.logger.error({ traceId, err: decoded.error.message }, 'buffered trace no longer decodes; dropped');
        return { decision: { keep: false, policy: '(corrupt in buffer)' }, views: [] };
      }
      for (const span of decoded.value.spans) views.push(span);
    }
    const observe = this.o.onPolicyEvaluation;
    if (observe === undefined) return { decision: policies.decide({ traceId, spans: views, byteSize }, { nowMs }), views };
    const started = performance.now();
    const decision = policies.decide({ traceId, spans: views, byteSize }, { nowMs });
    observe((performance.now() - started) / 1000);
    return { decision, views };
  }

  /** The attributes every kept span gets: why it was kept, and the anomaly when there was one. */
  private keptReasons(traceId: string, decision: { readonly policy: string | undefined; readonly sampleRate?: number }): readonly SpanAttribute[] {
    const extra = this.o.keptAttributes?.(traceId);
    const reasons = decisionAttributes(decision);
    return extra === undefined || extra.length === 0 ? reasons : [...reasons, ...extra];
  }

  /** Counts a trace the buffer made due early because it reached a per-trace limit. */
  private countLimits(spanCount: number, fragments: readonly StoredFragment[]): void {
    const { maxSpansPerTrace, maxTraceBytes } = this.o.limits ?? {};
    const { stats } = this.o;
    if (maxSpansPerTrace !== undefined && spanCount >= maxSpansPerTrace) stats.count(stats.tracesOverLimit, 'max_spans_per_trace');
    if (maxTraceBytes === undefined) return;
    let bytes = 0;
    for (const f of fragments) bytes += f.byteLength;
    if (bytes > maxTraceBytes) stats.count(stats.tracesOverLimit, 'maximum_trace_size_bytes');
  }

  /** Records the decisions (one round trip); spans that came in while they were made follow them. */
  private async finish(decided: readonly Decided[], nowMs: number): Promise<void> {
    if (decided.length === 0) return;
    const recorded: CompletedTrace[] = decided.map((x) => ({ trace: x.due, decision: { keep: x.decision.keep, policy: x.decision.policy } }));
    const late = await this.o.buffer.completeMany(recorded, nowMs);
    decided.forEach((x, i) => this.finished(x, late[i], nowMs));
  }

  private finished(x: Decided, late: readonly Uint8Array[], nowMs: number): void {
    const { stats } = this.o;
    if (this.o.onDecided !== undefined) this.o.onDecided(x.due.traceId, this.o.clock.now(), x.due.dueMs, x.decision.keep);
    if (x.decision.keep) {
      stats.count(stats.tracesKept, x.decision.policy ?? EngineStats.NO_MATCH);
      stats.spansKept += x.spans;
      this.o.onKept?.(x.due.traceId, x.views, nowMs);
    } else {
      stats.count(stats.tracesDropped, x.decision.policy ?? EngineStats.NO_MATCH);
      stats.spansDropped += x.spans;
    }
    if (late.length === 0) return;
    for (const bytes of late) {
      const spans = countSpans(bytes);
      if (x.decision.keep) {
        if (this.forwarding) this.lateKept.push({ traceId: x.due.traceId, bytes: annotateSpans(bytes, this.keptReasons(x.due.traceId, x.decision)), spans });
        stats.lateSpansKept += spans;
      } else {
        stats.lateSpansDropped += spans;
      }
    }
  }

  private async flushLate(): Promise<void> {
    if (this.lateKept.length === 0) return;
    const late = this.lateKept;
    this.lateKept = [];
    const outcome = await this.send(keptBatch([], late, 0));
    if (outcome === 'retry') this.lateKept = late.concat(this.lateKept);
  }

  private async sendTo(sink: TraceSink, batch: KeptBatch): Promise<void> {
    this.sending.set(sink.name, (this.sending.get(sink.name) ?? 0) + batch.spanCount);
    try {
      await sink.send(batch);
    } finally {
      this.sending.set(sink.name, (this.sending.get(sink.name) ?? 0) - batch.spanCount);
    }
  }

  /**
   * Sends one batch to every sink. 'retry' when a sink failed in a way that trying again can
   * fix; a permanent refusal (e.g. 400) is counted and logged, and the batch counts as done,
   * because retrying it would block the buffer forever.
   */
  private async send(batch: KeptBatch): Promise<'done' | 'retry'> {
    const results = await Promise.allSettled(this.o.sinks.map((s) => this.sendTo(s, batch)));
    let retry = false;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      const sink = this.o.sinks[i].name;
      this.o.stats.count(this.o.stats.forwardErrors, sink);
      const retriable = !(r.reason instanceof SinkError) || r.reason.retriable;
      if (retriable) retry = true;
      this.o.logger.warn(
        { sink, err: r.reason instanceof Error ? r.reason.message : String(r.reason), traces: batch.traceCount, spans: batch.spanCount },
        retriable ? 'sink failed; traces stay buffered and are retried' : 'sink refused traces permanently; not retried',
      );
    });
    return retry ? 'retry' : 'done';
  }
}

/** Kept late spans of a decided trace, annotated, waiting for the next batch. */
interface LateKept {
  readonly traceId: string;
  readonly bytes: Uint8Array;
  readonly spans: number;
}

/**
 * The batch of newly kept traces and queued late spans, with its split by trace (see
 * KeptBatch.traces): late spans join their trace's entry, so a trace id appears once.
 */
function keptBatch(traces: KeptTrace[], late: readonly LateKept[], traceCount: number): KeptBatch {
  const parts: Uint8Array[] = [];
  let spanCount = 0;
  for (const t of traces) {
    for (const f of t.fragments) parts.push(f);
    spanCount += t.spanCount;
  }
  if (late.length > 0) {
    const byId = new Map<string, { fragments: Uint8Array[]; spanCount: number }>();
    for (const l of late) {
      parts.push(l.bytes);
      spanCount += l.spans;
      const entry = byId.get(l.traceId);
      if (entry === undefined) byId.set(l.traceId, { fragments: [l.bytes], spanCount: l.spans });
      else {
        entry.fragments.push(l.bytes);
        entry.spanCount += l.spans;
      }
    }
    const index = new Map<string, number>();
    traces.forEach((t, i) => index.set(t.traceId, i));
    for (const [traceId, entry] of byId) {
      const at = index.get(traceId);
      if (at === undefined) {
        traces.push({ traceId, ...entry });
      } else {
        const t = traces[at];
        traces[at] = { traceId, fragments: [...t.fragments, ...entry.fragments], spanCount: t.spanCount + entry.spanCount };
      }
    }
  }
  return { request: concatRequests(parts), traceCount, spanCount, traces };
}

function countSpans(fragmentBytes: Uint8Array): number {
  const decoded = decodeProtobufSpans(fragmentBytes);
  return decoded.ok ? decoded.value.spanCount : 0;
}
