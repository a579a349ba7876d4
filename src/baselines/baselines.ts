import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { SpanView } from '../otlp/types.js';
import type { SpanAttribute } from '../otlp/annotate-spans.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { anomalyAttributes } from './anomaly-attributes.js';
import { ago, formatDuration, formatPerUnit, formatRate, latencyFigures, operationLabel, workUnit } from './anomaly-reasons.js';
import { MAX_SCORE, errorScore, errorSpikeScore, latencyScore, latencyShift, shiftMembership, traceScore } from './anomaly-scores.js';
import { MemoryBaselineStore, type BaselineStore, type OperationRecord, type OperationRef } from './baseline-store.js';
import type { BaselinesConfig } from './config.js';
import { bucketOf } from './log-histogram.js';
import { computeBaseline, computeRecent, type OperationBaseline, type RecentWindow, type WindowFigures } from './operation-baseline.js';
import { RED_OVERFLOW_LABEL, RedCounts, type RedSeries } from './red-metrics.js';
import { countSpan, emptySlotCounts, type SlotCounts } from './slot-counts.js';
import { NO_ANOMALY, type AnomalyKind, type Departure, type DepartureKind, type SpanAnomaly, type TraceAnomaly } from './trace-anomaly.js';

/** What `scoreTrace` looks for; the `anomaly` policy passes its own settings. */
export interface ScoreOptions {
  /** Default: all three kinds. */
  readonly kinds?: readonly AnomalyKind[];
  /** Spans an operation's baseline needs before its spans are judged. Default: the stage's `minSamples`. */
  readonly minSamples?: number;
  /** How far back the baseline looks, ms; at most the stage's `window`. Default: the stage's. */
  readonly windowMs?: number;
  /** Score from which a span, on its own, counts in `anomalousSpans`. Default: the stage's `absorbThreshold`. */
  readonly threshold?: number;
}

/** What the stage counted; for metrics and the status line. */
export interface BaselineCounters {
  /** Spans observed at intake. */
  spansObserved: number;
  /** Spans kept out of their baseline because they scored as anomalous. */
  spansKeptOut: number;
  /** Spans of (service, operation) pairs past `maxOperations`: counted in RED's overflow series, not judged. */
  spansOverflow: number;
  /** Call edges not tracked because `maxEdges` was reached. */
  edgesOverflow: number;
  /** Failed syncs with the shared store (the stage keeps its counts and tries again). */
  syncFailures: number;
}

/** A new operation or call edge scores this much: never seen is as surprising as it gets. */
const NEW_STRUCTURE_SCORE = MAX_SCORE;

/** Trace anomalies remembered for annotating kept traces, most recent last. */
const REMEMBERED_ANOMALIES = 10_000;

/** Traces whose call edges were counted, most recent last. */
const EDGE_COUNTED_TRACES = 10_000;

/** Spans of an operation looked at for work attributes before concluding that it has none. */
const WORK_PROBE_SPANS = 50;

/** One series of slot counts in the store: an operation's latencies, or its latencies per unit of work. */
interface SeriesState {
  /** The series' id in the store. */
  readonly id: string;
  /** Counts of the current slot not yet handed to the store (one Map lookup per span instead of several). */
  pending: SlotCounts | undefined;
  pendingSlot: number;
  /** Baselines computed for the slot and store version they were computed at, by window length in slots. */
  readonly cache: Map<number, { slot: number; version: number; baseline: OperationBaseline }>;
}

interface OpState extends SeriesState {
  readonly ref: OperationRef;
  readonly red: RedCounts;
  /** Latency per unit of work (ms per output token, ...), by work attribute and work class; see `workAttributes`. */
  readonly work: Map<string, SeriesState>;
  /**
   * Spans still to look at for a work attribute. Attributes are decoded lazily, so operations
   * whose first spans carry none stop being looked at (0); one that did is looked at always (-1).
   */
  workProbe: number;
}

/** How much work a span says it did: the first work attribute it carries with a positive number. */
interface SpanWork {
  readonly attribute: string;
  readonly amount: number;
  /**
   * floor(log2(amount)): spans are compared with spans that did about as much work (within a
   * factor of 2). Latency is rarely proportional to work — an LLM call is a time to the first
   * token plus a time per token — so per-unit times of short and long calls differ; within a
   * class they do not, and a slowdown stands out against a tight baseline.
   */
  readonly workClass: number;
}

/**
 * Per-(service, operation) baselines — latency distribution (log-bucketed, mergeable), error
 * rate, throughput — over sliding windows of time slots with exponential decay, learned from
 * every span at intake, before sampling; and the anomaly scores judged against them.
 *
 * Time is always passed in (`nowMs`), so a replay runs in event time. Spans are counted in the
 * slot of the time they were observed. A baseline leaves out its operation's recent window
 * (`recent`), which is what departures are measured on, and the spans that scored at or above
 * `absorbThreshold` when they were observed, so an anomaly does not pull the baseline towards
 * itself. Nothing is judged before an operation has `minSamples` spans in its baseline.
 */
export class Baselines {
  readonly counters: BaselineCounters = { spansObserved: 0, spansKeptOut: 0, spansOverflow: 0, edgesOverflow: 0, syncFailures: 0 };
  private readonly byService = new Map<string, Map<string, OpState>>();
  private readonly byId = new Map<string, OpState>();
  private readonly overflowRed = new RedCounts(RED_OVERFLOW_LABEL, RED_OVERFLOW_LABEL);
  private readonly slotMs: number;
  private readonly windowSlots: number;
  private readonly recentSlots: number;
  private readonly departureEveryMs: number;
  private departuresAtMs = -Infinity;
  /** Departures found at the last evaluation, by operation id, with the recent window they were found in. */
  private departed = new Map<string, Map<DepartureKind, { departure: Departure; recent: RecentWindow }>>();
  private departureList: readonly Departure[] = [];
  /**
   * Latency-per-work series whose recent window is shifted against their baseline, by series
   * id. Like departures, but they open no incident: the operation's plain latency does that.
   */
  private workShifted = new Map<string, { z: number; recent: RecentWindow }>();
  private lastPrunedSlot = -Infinity;
  private readonly remembered = new Map<string, TraceAnomaly>();
  private readonly edgesCountedFor = new Set<string>();
  private overflowLoggedAtMs = -Infinity;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(
    readonly config: BaselinesConfig,
    readonly store: BaselineStore = new MemoryBaselineStore(),
    private readonly logger: Logger = silentLogger,
  ) {
    this.slotMs = config.slot;
    this.windowSlots = Math.max(2, Math.ceil(config.window / config.slot));
    this.recentSlots = Math.max(1, Math.min(this.windowSlots - 1, Math.ceil(config.recent / config.slot)));
    // Twice per slot: a departure is noticed within half a slot of the data showing it.
    this.departureEveryMs = config.slot / 2;
  }

  /**
   * Counts spans into their operations' current slot. Called at intake with every span,
   * before sampling. Never throws on odd spans: a negative duration counts as 0.
   */
  observe(spans: readonly SpanView[], nowMs: number): void {
    const slot = this.slotOf(nowMs);
    if (slot !== this.lastPrunedSlot) this.prune(slot);
    this.refreshDepartures(nowMs);
    const anyDeparture = this.departed.size > 0;
    const anyWorkShift = this.workShifted.size > 0;
    for (const span of spans) {
      this.counters.spansObserved += 1;
      const ms = Math.max(0, span.endMs - span.startMs);
      const error = span.statusCode === 2;
      const op = this.stateFor(span.serviceName, span.name, nowMs);
      if (op === undefined) {
        this.overflowRed.record(ms, error);
        continue;
      }
      op.red.record(ms, error);
      const work = this.workOf(op, span);
      const workSeries = work === undefined ? undefined : this.workSeries(op, work);
      let outlier = false;
      const baseline = this.baselineOf(op, slot, this.windowSlots);
      if (baseline.spans >= this.config.minSamples) {
        // A span that says how much work it did is not kept out for its plain latency: a long
        // call that did much work is normal, and keeping such calls out would leave the tail of
        // the operation's latency unlearnt, so that they kept looking anomalous.
        const slow = workSeries === undefined && latencyScore(baseline, ms) >= this.config.absorbThreshold;
        outlier = slow || (error && errorScore(baseline) >= this.config.absorbThreshold);
        // During a departure the spans taking part in it stay out too, whatever their own score:
        // otherwise a shift would become the baseline once it has lasted one recent window.
        if (!outlier && anyDeparture) outlier = this.partOfDeparture(op.ref.id, baseline, ms, error);
      }
      if (work !== undefined && workSeries !== undefined) {
        const perUnit = this.baselineOf(workSeries, slot, this.windowSlots);
        // Kept out of both series when either calls it anomalous: an anomaly must not pull any baseline.
        if (!outlier && perUnit.spans >= this.config.minSamples) {
          outlier = latencyScore(perUnit, ms / work.amount) >= this.config.absorbThreshold;
          const shifted = anyWorkShift ? this.workShifted.get(workSeries.id) : undefined;
          if (!outlier && shifted !== undefined) outlier = shiftMembership(shifted.recent, perUnit, ms / work.amount);
        }
      }
      if (outlier) this.counters.spansKeptOut += 1;
      this.countInto(op, slot, ms, error, outlier);
      if (work !== undefined && workSeries !== undefined) this.countInto(workSeries, slot, ms / work.amount, error, outlier);
    }
  }

  /**
   * How anomalous a trace is against the baselines: its score, and its most anomalous span
   * with the reason. Spans score for latency far outside the operation's baseline, an error
   * where errors are rare, an operation or a call edge (parent service → child service) first
   * seen after the warm-up. The trace's score corrects the latency and error scores for how
   * many spans were judged (`traceScore`), so that a trace of many spans does not reach a
   * threshold by chance more often than one of a single span; new structure counts as it is.
   * A span of an operation whose recent window departs from its baseline (see `departures`)
   * and that is part of the departure (slower than the baseline's p90, or failed) scores at
   * least the departure's own z.
   *
   * A span carrying a work attribute (`workAttributes`) is judged by its latency per unit of
   * work against spans of its operation that did about as much work, and by a shift of that
   * figure, instead of by its plain latency; until that baseline has `minSamples` spans, by
   * its plain latency alone.
   *
   * Call edges are learned here, from the traces scored: a span's parent is usually in
   * another service's export, so edges are only visible once the trace is whole.
   */
  scoreTrace(spans: readonly SpanView[], nowMs: number, options: ScoreOptions = {}): TraceAnomaly {
    const kinds = options.kinds ?? ['latency', 'error', 'new_operation'];
    const wantLatency = kinds.includes('latency');
    const wantError = kinds.includes('error');
    const wantNew = kinds.includes('new_operation');
    const minSamples = options.minSamples ?? this.config.minSamples;
    const threshold = options.threshold ?? this.config.absorbThreshold;
    const windowSlots = options.windowMs === undefined ? this.windowSlots : Math.max(this.recentSlots + 1, Math.min(this.windowSlots, Math.ceil(options.windowMs / this.slotMs)));
    const slot = this.slotOf(nowMs);
    if (wantLatency || wantError) this.refreshDepartures(nowMs);
    const newAfterMs = this.newAfterMs();

    let top: SpanAnomaly | undefined;
    let count = 0;
    let judgedSpans = 0;
    // A span's own latency and error scores are tail probabilities of a test made for each
    // span, corrected for how many spans were judged (`traceScore`). A departure's z comes from
    // one test of the operation's recent window, made whatever the trace, and something never
    // seen before is no chance event: those count as they are.
    const spanScores: number[] = [];
    let settledScore = 0;
    const consider = (candidate: SpanAnomaly): void => {
      if (candidate.score >= threshold) count += 1;
      if (top === undefined || candidate.score > top.score) top = candidate;
      if (candidate.kind === 'new_operation') settledScore = Math.max(settledScore, candidate.score);
    };

    for (const span of spans) {
      const op = this.byService.get(span.serviceName)?.get(span.name);
      if (op === undefined) continue;
      const baseline = this.baselineOf(op, slot, windowSlots);
      const label = operationLabel(op.ref.service, op.ref.operation);
      const judged = baseline.spans >= minSamples;
      let best: SpanAnomaly | undefined;
      let tested = false;
      let spanScore = 0;
      const offer = (kind: AnomalyKind, own: number, settled: number, reason: () => string): void => {
        spanScore = Math.max(spanScore, own);
        settledScore = Math.max(settledScore, settled);
        const score = Math.max(own, settled);
        if (score > 0 && (best === undefined || score > best.score)) {
          best = { kind, score, reason: reason(), service: op.ref.service, operation: op.ref.operation, spanId: span.spanId };
        }
      };
      const work = wantLatency ? this.workOf(op, span, false) : undefined;
      const workSeries = work === undefined ? undefined : op.work.get(workKey(work.attribute, work.workClass));
      const perUnit = workSeries === undefined ? undefined : this.baselineOf(workSeries, slot, windowSlots);
      if (work !== undefined && workSeries !== undefined && perUnit !== undefined && perUnit.spans >= minSamples) {
        tested = true;
        // Judged per unit of work only: a span that is long because it did more work is not anomalous.
        const ms = Math.max(0, span.endMs - span.startMs);
        const value = ms / work.amount;
        const unit = workUnit(work.attribute);
        const own = latencyScore(perUnit, value);
        const shifted = this.workShifted.get(workSeries.id);
        const inShift = shifted !== undefined && shiftMembership(shifted.recent, perUnit, value) ? Math.min(shifted.z, MAX_SCORE) : 0;
        offer('latency', own, inShift, () => {
          const per = (perUnitMs: number) => formatPerUnit(perUnitMs, unit.singular);
          const base = `${label} ${formatDuration(ms)} for ${work.amount} ${unit.plural} (${per(value)}); baseline for ${workClassRange(work.workClass)} ${unit.plural} p50 ${per(perUnit.p50Ms)} p99 ${per(perUnit.p99Ms)}`;
          return inShift > own && shifted !== undefined ? `${base}; shifted (recent p50 ${per(shifted.recent.p50Ms)} p99 ${per(shifted.recent.p99Ms)})` : base;
        });
      } else if (judged && wantLatency) {
        tested = true;
        const ms = Math.max(0, span.endMs - span.startMs);
        const own = latencyScore(baseline, ms);
        // A span that did work of a class without a baseline yet is judged on its own latency
        // only: its operation's latency shift may be nothing but more work.
        const found = work === undefined ? this.departed.get(op.ref.id)?.get('latency') : undefined;
        const shifted = found?.departure;
        const inShift = found !== undefined && shiftMembership(found.recent, baseline, ms) ? Math.min(found.departure.z, MAX_SCORE) : 0;
        offer('latency', own, inShift, () => {
          const base = `${label} ${formatDuration(ms)}; baseline ${latencyFigures(baseline)}`;
          return inShift > own && shifted !== undefined ? `${base}; latency shifted (recent ${latencyFigures(shifted.observed)})` : base;
        });
      }
      // Every span of a judged operation is tested for errors, the ones that did not fail too.
      if (judged && wantError) tested = true;
      if (judged && wantError && span.statusCode === 2) {
        const own = errorScore(baseline);
        const spike = this.departed.get(op.ref.id)?.get('error_rate')?.departure;
        const inSpike = spike !== undefined ? Math.min(spike.z, MAX_SCORE) : 0;
        offer('error', own, inSpike, () => {
          const base = `${label} failed; baseline error rate ${formatRate(baseline.errorRate)} of ${baseline.spans} spans`;
          return inSpike > own && spike !== undefined ? `${base}; error rate now ${formatRate(spike.observed.errorRate)} of ${spike.observed.spans} spans` : base;
        });
      }
      if (wantNew && newAfterMs !== undefined) {
        const record = this.store.operation(op.ref.id);
        if (record !== undefined && record.firstSeenMs >= newAfterMs && (baseline.spans < minSamples || nowMs - record.firstSeenMs < this.config.newFor)) {
          offer('new_operation', 0, NEW_STRUCTURE_SCORE, () => `${label} is new (first seen ${ago(nowMs - record.firstSeenMs)} ago)`);
        }
      }
      if (tested) {
        judgedSpans += 1;
        if (spanScore > 0) spanScores.push(spanScore);
      }
      if (best !== undefined) consider(best);
    }

    if (wantNew) {
      const edge = this.newEdge(spans, nowMs, newAfterMs, minSamples);
      if (edge !== undefined) consider(edge);
    }
    if (top === undefined) return NO_ANOMALY;
    return { score: Math.max(traceScore(spanScores, judgedSpans), settledScore), anomalousSpans: count, judgedSpans, top };
  }

  /**
   * Operations whose recent window departs from their baseline now: latency shifted (rank
   * test, and p50 or p90 up by `latencyRatio`) or an error-rate spike (binomial test, at least
   * `minErrorRate` and `errorRatio` times the baseline's). Re-evaluated at most twice per slot.
   */
  departures(nowMs: number): readonly Departure[] {
    this.refreshDepartures(nowMs);
    return this.departureList;
  }

  /** The departures a span takes part in (slower like the shift, or failed during a spike): for exemplars of incidents. */
  departuresOf(span: SpanView, nowMs: number): Departure[] {
    this.refreshDepartures(nowMs);
    const op = this.byService.get(span.serviceName)?.get(span.name);
    const found = op === undefined ? undefined : this.departed.get(op.ref.id);
    if (op === undefined || found === undefined) return [];
    const out: Departure[] = [];
    const latency = found.get('latency');
    const baseline = this.baselineOf(op, this.slotOf(nowMs), this.windowSlots);
    if (latency !== undefined && shiftMembership(latency.recent, baseline, Math.max(0, span.endMs - span.startMs))) out.push(latency.departure);
    const errors = found.get('error_rate');
    if (errors !== undefined && span.statusCode === 2) out.push(errors.departure);
    return out;
  }

  /** The baseline of one operation now (undefined when it was never seen): for reasons, tests and tools. */
  baseline(service: string, operation: string, nowMs: number): OperationBaseline | undefined {
    const op = this.byService.get(service)?.get(operation);
    return op === undefined ? undefined : this.baselineOf(op, this.slotOf(nowMs), this.windowSlots);
  }

  /**
   * The baseline of one operation's latency per unit of a work attribute (ms per unit) for
   * spans that did about `amount` of work (the same power-of-2 class); undefined when no such
   * span was seen.
   */
  workBaseline(service: string, operation: string, attribute: string, amount: number, nowMs: number): OperationBaseline | undefined {
    const series = this.byService.get(service)?.get(operation)?.work.get(workKey(attribute, workClassOf(amount)));
    return series === undefined ? undefined : this.baselineOf(series, this.slotOf(nowMs), this.windowSlots);
  }

  /** RED series of every tracked operation, plus one overflow series when the cap was reached. */
  redSeries(): RedSeries[] {
    const series = [...this.byId.values()].filter((op) => op.red.requests > 0).map((op) => op.red.series());
    if (this.overflowRed.requests > 0) series.push(this.overflowRed.series());
    return series;
  }

  /** Operations tracked by this instance. */
  get operationCount(): number {
    return this.byId.size;
  }

  /**
   * Remembers why the `anomaly` policy kept a trace, so its spans can carry the score and the
   * reason when it is forwarded (`attributesFor`). Bounded: the oldest are forgotten first.
   */
  remember(traceId: string, anomaly: TraceAnomaly): void {
    this.remembered.delete(traceId);
    this.remembered.set(traceId, anomaly);
    if (this.remembered.size > REMEMBERED_ANOMALIES) {
      const oldest = this.remembered.keys().next().value;
      if (oldest !== undefined) this.remembered.delete(oldest);
    }
  }

  /** `tailsift.anomaly.score` and `tailsift.anomaly.reason` for a trace the anomaly policy kept; [] otherwise. */
  attributesFor(traceId: string): SpanAttribute[] {
    return anomalyAttributes(this.remembered.get(traceId));
  }

  /** Hands this instance's counts to the store and, for Redis, merges with the other instances'. */
  async sync(nowMs: number): Promise<void> {
    for (const op of this.byId.values()) {
      this.handOver(op);
      for (const series of op.work.values()) this.handOver(series);
    }
    try {
      await this.store.sync(nowMs);
    } catch (err) {
      this.counters.syncFailures += 1;
      this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'baselines: sync with the shared store failed; counts kept and retried');
    }
    this.registerRemoteOperations();
  }

  /** Syncs every `intervalMs` (wall clock) with time from `clock`. Only the Redis store needs it. */
  startSync(clock: Clock, intervalMs: number): void {
    if (this.syncTimer !== undefined) return;
    this.syncTimer = setInterval(() => {
      if (this.syncing !== undefined) return;
      this.syncing = this.sync(clock.now()).finally(() => {
        this.syncing = undefined;
      });
    }, intervalMs);
    this.syncTimer.unref();
  }

  /** Stops syncing, writes what is left, closes the store. Idempotent. */
  async close(nowMs: number): Promise<void> {
    if (this.syncTimer !== undefined) clearInterval(this.syncTimer);
    this.syncTimer = undefined;
    await this.syncing;
    if (this.store.kind === 'redis') await this.sync(nowMs);
    await this.store.close();
  }

  private slotOf(nowMs: number): number {
    return Math.floor(nowMs / this.slotMs);
  }

  /** Event time after which a first-seen operation or edge counts as new; undefined during the warm-up. */
  private newAfterMs(): number | undefined {
    const started = this.store.startedMs();
    return started === undefined ? undefined : started + this.config.warmup;
  }

  private stateFor(service: string, operation: string, nowMs: number): OpState | undefined {
    const names = this.byService.get(service);
    const existing = names?.get(operation);
    if (existing !== undefined) return existing;
    if (this.byId.size >= this.config.maxOperations) {
      this.counters.spansOverflow += 1;
      if (nowMs - this.overflowLoggedAtMs >= 60_000) {
        this.overflowLoggedAtMs = nowMs;
        this.logger.warn(
          { maxOperations: this.config.maxOperations, spansOverflow: this.counters.spansOverflow },
          'baselines: (service, operation) cap reached; spans of further pairs are counted as overflow and not judged',
        );
      }
      return undefined;
    }
    const ref: OperationRef = { id: operationId(service, operation), service, operation };
    this.store.noteOperation(ref, nowMs);
    return this.addState(ref, names ?? this.namesOf(service));
  }

  private namesOf(service: string): Map<string, OpState> {
    let names = this.byService.get(service);
    if (names === undefined) {
      names = new Map();
      this.byService.set(service, names);
    }
    return names;
  }

  private addState(ref: OperationRef, names: Map<string, OpState>): OpState {
    const state: OpState = {
      id: ref.id,
      ref,
      red: new RedCounts(ref.service, ref.operation),
      pending: undefined,
      pendingSlot: 0,
      cache: new Map(),
      work: new Map(),
      workProbe: this.config.workAttributes.length === 0 ? 0 : WORK_PROBE_SPANS,
    };
    names.set(ref.operation, state);
    this.byId.set(ref.id, state);
    return state;
  }

  /** Operations other instances registered, so their departures are evaluated here too. */
  private registerRemoteOperations(): void {
    for (const record of this.store.operations()) {
      if (this.byId.has(record.id) || this.byId.size >= this.config.maxOperations) continue;
      this.addState(record, this.namesOf(record.service));
    }
  }

  /** Counts one value into a series' pending slot, handing the previous slot's counts over first. */
  private countInto(series: SeriesState, slot: number, value: number, error: boolean, outlier: boolean): void {
    if (series.pending === undefined || series.pendingSlot !== slot) {
      this.handOver(series);
      series.pending = emptySlotCounts();
      series.pendingSlot = slot;
    }
    countSpan(series.pending, bucketOf(value), error, outlier);
  }

  private handOver(series: SeriesState): void {
    if (series.pending === undefined) return;
    this.store.add(series.id, series.pendingSlot, series.pending);
    series.pending = undefined;
  }

  /**
   * The work a span says it did, if its operation carries work attributes. `learn` (at intake)
   * lets the first spans of an operation decide whether it is worth looking at all.
   */
  private workOf(op: OpState, span: SpanView, learn = true): SpanWork | undefined {
    if (op.workProbe === 0) return undefined;
    for (const attribute of this.config.workAttributes) {
      const value = span.attribute(attribute);
      const amount = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
      if (Number.isFinite(amount) && amount > 0) {
        if (learn) op.workProbe = -1;
        return { attribute, amount, workClass: workClassOf(amount) };
      }
    }
    if (learn && op.workProbe > 0) op.workProbe -= 1;
    return undefined;
  }

  private workSeries(op: OpState, work: SpanWork): SeriesState {
    const key = workKey(work.attribute, work.workClass);
    let series = op.work.get(key);
    if (series === undefined) {
      series = { id: workSeriesId(op.ref, key), pending: undefined, pendingSlot: 0, cache: new Map() };
      op.work.set(key, series);
    }
    return series;
  }

  private baselineOf(op: SeriesState, slot: number, windowSlots: number): OperationBaseline {
    const cached = op.cache.get(windowSlots);
    if (cached !== undefined && cached.slot === slot && cached.version === this.store.version) return cached.baseline;
    if (op.pending !== undefined && op.pendingSlot < slot) this.handOver(op);
    const baseline = computeBaseline(
      this.store,
      op.id,
      { from: slot - windowSlots + 1, to: slot - this.recentSlots, currentSlot: slot },
      this.slotMs,
      this.config.halfLife,
    );
    op.cache.set(windowSlots, { slot, version: this.store.version, baseline });
    return baseline;
  }

  private partOfDeparture(opId: string, baseline: OperationBaseline, ms: number, error: boolean): boolean {
    const found = this.departed.get(opId);
    if (found === undefined) return false;
    if (error && found.has('error_rate')) return true;
    const latency = found.get('latency');
    return latency !== undefined && shiftMembership(latency.recent, baseline, ms);
  }

  private refreshDepartures(nowMs: number): void {
    if (nowMs - this.departuresAtMs < this.departureEveryMs && nowMs >= this.departuresAtMs) return;
    this.departuresAtMs = nowMs;
    const slot = this.slotOf(nowMs);
    const d = this.config.departure;
    const found = new Map<string, Map<DepartureKind, { departure: Departure; recent: RecentWindow }>>();
    const list: Departure[] = [];
    const workShifted = new Map<string, { z: number; recent: RecentWindow }>();
    const shiftOf = (recent: RecentWindow, baseline: OperationBaseline): number | undefined => {
      const shift = latencyShift(recent, baseline);
      const slower = recent.p50Ms >= d.latencyRatio * baseline.p50Ms || recent.p90Ms >= d.latencyRatio * baseline.p90Ms;
      return shift.z >= d.latencyZ && slower ? shift.z : undefined;
    };
    for (const op of this.byId.values()) {
      this.handOver(op);
      for (const series of op.work.values()) {
        this.handOver(series);
        const baseline = this.baselineOf(series, slot, this.windowSlots);
        if (baseline.spans < this.config.minSamples) continue;
        const recent = computeRecent(this.store, series.id, slot - this.recentSlots + 1, slot);
        if (recent.spans < d.minSpans) continue;
        const z = shiftOf(recent, baseline);
        if (z !== undefined) workShifted.set(series.id, { z, recent });
      }
      const baseline = this.baselineOf(op, slot, this.windowSlots);
      if (baseline.spans < this.config.minSamples) continue;
      const recent = computeRecent(this.store, op.ref.id, slot - this.recentSlots + 1, slot);
      if (recent.spans < d.minSpans) continue;
      const label = operationLabel(op.ref.service, op.ref.operation);
      const add = (kind: DepartureKind, z: number, summary: string): void => {
        const departure: Departure = {
          key: `${op.ref.service}/${op.ref.operation}/${kind}`,
          opId: op.ref.id,
          service: op.ref.service,
          operation: op.ref.operation,
          kind,
          z,
          observed: figures(recent),
          baseline: figures(baseline),
          summary,
        };
        let kinds = found.get(op.ref.id);
        if (kinds === undefined) {
          kinds = new Map();
          found.set(op.ref.id, kinds);
        }
        kinds.set(kind, { departure, recent });
        list.push(departure);
      };
      const shiftZ = shiftOf(recent, baseline);
      if (shiftZ !== undefined) {
        add('latency', shiftZ, `${label} latency ${latencyFigures(recent)} over ${recent.spans} spans; baseline ${latencyFigures(baseline)}`);
      }
      const spikeZ = errorSpikeScore(recent.errors, recent.spans, baseline.errorRate);
      if (spikeZ >= d.errorZ && recent.errorRate >= d.minErrorRate && recent.errorRate >= d.errorRatio * baseline.errorRate) {
        add('error_rate', spikeZ, `${label} error rate ${formatRate(recent.errorRate)} of ${recent.spans} spans; baseline ${formatRate(baseline.errorRate)}`);
      }
    }
    this.departed = found;
    this.workShifted = workShifted;
    this.departureList = list;
  }

  /** The first call edge of the trace that is new after the warm-up, learning every edge on the way. */
  private newEdge(spans: readonly SpanView[], nowMs: number, newAfterMs: number | undefined, minSamples: number): SpanAnomaly | undefined {
    const serviceOf = new Map<string, string>();
    for (const span of spans) serviceOf.set(span.spanId, span.serviceName);
    // A trace scored again (by a second anomaly policy, or by replay's per-policy pass and
    // second policy file) must not count its edges again, or a new edge would stop counting
    // as new after fewer traces.
    const count = spans.length > 0 && this.firstEdgeCount(spans[0].traceId);
    const seenHere = new Set<string>();
    let found: SpanAnomaly | undefined;
    for (const span of spans) {
      const parent = span.parentSpanId === '' ? undefined : serviceOf.get(span.parentSpanId);
      if (parent === undefined || parent === span.serviceName) continue;
      const key = `${parent}\t${span.serviceName}`;
      if (seenHere.has(key)) continue;
      seenHere.add(key);
      const edge = this.store.noteEdge(key, nowMs, this.config.maxEdges);
      if (edge === undefined) {
        this.counters.edgesOverflow += 1;
        continue;
      }
      if (count) edge.seen += 1;
      if (found === undefined && newAfterMs !== undefined && edge.firstSeenMs >= newAfterMs && (edge.seen <= minSamples || nowMs - edge.firstSeenMs < this.config.newFor)) {
        found = {
          kind: 'new_operation',
          score: NEW_STRUCTURE_SCORE,
          reason: `new call ${parent || '(unknown service)'} → ${span.serviceName || '(unknown service)'} (first seen ${ago(nowMs - edge.firstSeenMs)} ago)`,
          service: span.serviceName,
          operation: span.name,
          spanId: span.spanId,
        };
      }
    }
    return found;
  }

  /** True the first time a trace's edges are counted (among the last EDGE_COUNTED_TRACES). */
  private firstEdgeCount(traceId: string): boolean {
    if (this.edgesCountedFor.has(traceId)) return false;
    this.edgesCountedFor.add(traceId);
    if (this.edgesCountedFor.size > EDGE_COUNTED_TRACES) {
      const oldest = this.edgesCountedFor.values().next().value;
      if (oldest !== undefined) this.edgesCountedFor.delete(oldest);
    }
    return true;
  }

  private prune(slot: number): void {
    this.lastPrunedSlot = slot;
    this.store.prune(slot - this.windowSlots);
  }
}

/** Work classes at most: 2^64 units of anything is past any real span. */
const MAX_WORK_CLASS = 64;

function workClassOf(amount: number): number {
  return Math.max(-MAX_WORK_CLASS, Math.min(MAX_WORK_CLASS, Math.floor(Math.log2(amount))));
}

function workKey(attribute: string, workClass: number): string {
  return `${attribute}\0${workClass}`;
}

/** `128 to 255` for whole units, `0.5 to 1` below one. */
function workClassRange(workClass: number): string {
  const low = 2 ** workClass;
  return workClass >= 0 ? `${low} to ${2 * low - 1}` : `${low} to ${2 * low}`;
}

/**
 * The store id of an operation's latency-per-work series (one per work attribute and class):
 * like an operation id, over the operation and the series key, so instances sharing a store
 * share it too.
 */
function workSeriesId(ref: OperationRef, key: string): string {
  return operationId(ref.service, `${ref.operation}\0per\0${key}`);
}

function figures(w: WindowFigures): WindowFigures {
  return { spans: w.spans, errorRate: w.errorRate, p50Ms: w.p50Ms, p90Ms: w.p90Ms, p99Ms: w.p99Ms };
}

/**
 * A stable id for a (service, operation) pair, the same on every instance: the first 12 hex
 * digits of SHA-1 over both names. Collisions need about 16 million pairs to become likely,
 * far past any cardinality cap.
 */
export function operationId(service: string, operation: string): string {
  return createHash('sha1').update(service).update('\0').update(operation).digest('hex').slice(0, 12);
}

export type { OperationRecord };
