import type { Baselines } from '../baselines/baselines.js';
import { MemoryTraceBuffer } from '../buffer/memory/memory-trace-buffer.js';
import type { CompletionSettings } from '../buffer/trace-buffer.js';
import { DecisionLoop } from '../decide/decision-loop.js';
import type { TraceSink } from '../forward/sink.js';
import type { DecodedRequest } from '../otlp/types.js';
import type { EvalContext, PolicySet, TraceDecision, TraceView } from '../policies/evaluator.js';
import type { OrderedPolicySet } from '../policies/policy-set.js';
import { EngineStats } from '../telemetry/engine-stats.js';
import type { Logger } from '../telemetry/logger.js';
import { EventTimeClock } from './event-time-clock.js';
import { ReplayRecorder } from './replay-recorder.js';

export interface ReplayRunOptions {
  /** The policy set that decides, as the live engine builds it from the policy file. */
  readonly policySet: PolicySet;
  /**
   * A second set built from the same file, used only to ask every policy its own decision
   * (per-policy counts); separate so that stateful policies are not charged twice.
   */
  readonly analysisSet?: OrderedPolicySet;
  /** From the policy file (`toCompletionSettings`). */
  readonly settings: CompletionSettings;
  /** Where kept traces go (the `--out` file sink); none is fine. */
  readonly sinks: readonly TraceSink[];
  readonly logger: Logger;
  /** Remember every kept trace (for comparing two policy files). */
  readonly keepTraceRecords?: boolean;
  /**
   * The baselines stage the policies were built with: kept traces it found anomalous get
   * `tailsift.anomaly.score` and `tailsift.anomaly.reason` on their spans in the sinks.
   */
  readonly baselines?: Baselines;
  /** Every kept trace, when it is decided (exemplars for alerts). */
  readonly onKept?: (trace: TraceView, nowMs: number) => void;
}

/**
 * One policy file replayed through the engine's own parts (MemoryTraceBuffer, DecisionLoop,
 * the policy set, the sinks), driven in event time. With the baselines stage, kept traces it
 * found anomalous carry the anomaly's attributes to the sinks, and every kept trace is handed
 * to `onKept` (exemplars for alerts).
 *
 * For each request: decide every trace that fell due before the request's arrival time (at
 * its own due time, in order), append the request at the arrival time, then decide what
 * became due at once (span limit). Deciding at each due time rather than in 100 ms rounds
 * makes the decision instant the one the completion rules define (first span +
 * decision_wait, root + decision_wait_after_root_received), and time-based policies
 * (rate_limiting, bytes_limiting) see the same clock the live engine would have shown them.
 */
export class ReplayRun {
  readonly clock = new EventTimeClock();
  readonly stats = new EngineStats();
  readonly recorder: ReplayRecorder;
  /** Requests that found the buffer full (num_traces) and waited for decisions to make room. */
  bufferFullWaits = 0;
  private readonly buffer: MemoryTraceBuffer;
  private readonly loop: DecisionLoop;
  private readonly settings: CompletionSettings;

  constructor(private readonly options: ReplayRunOptions) {
    this.settings = options.settings;
    this.recorder = new ReplayRecorder(options.policySet.policyNames, { keepTraceRecords: options.keepTraceRecords });
    this.buffer = new MemoryTraceBuffer(options.settings);
    const recording = new RecordingPolicySet(options.policySet, options.analysisSet, this.recorder, (trace, decision, nowMs) => this.noteDecision(trace, decision, nowMs));
    this.loop = new DecisionLoop({
      buffer: this.buffer,
      policies: () => recording,
      sinks: options.sinks,
      // Kept anomalous traces carry the anomaly's score and reason, as live.
      keptAttributes: options.baselines === undefined ? undefined : (traceId) => options.baselines!.attributesFor(traceId),
      clock: this.clock,
      stats: this.stats,
      logger: options.logger,
      onDecided: (traceId) => this.recorder.decided(traceId),
    });
  }

  /**
   * One request, arriving at `arrivalMs` (the watermark). `where` names it in errors.
   */
  async accept(request: DecodedRequest, arrivalMs: number, where: string): Promise<void> {
    this.recorder.noteRequest(request);
    if (request.fragments.length === 0) return;
    await this.decideUntil(arrivalMs);
    let outcome = await this.buffer.append(request.fragments, this.clock.now());
    while (outcome.status === 'full') {
      // Live, the source is refused (HTTP 429, Kafka pause) until decisions make room and
      // the client tries again; here the request waits for the next due trace the same way.
      const next = await this.buffer.nextDueMs();
      // The buffer refuses only while it holds undecided traces, so one is always due.
      if (next === undefined) throw new Error(`${where}: the trace buffer refused the request with no trace pending`);
      this.bufferFullWaits++;
      this.clock.advanceTo(next);
      const retried = this.stats.tracesRetried;
      const decided = await this.loop.runDue(this.clock.now());
      if (decided === 0 && this.stats.tracesRetried > retried) {
        throw new Error(`${where}: the trace buffer is full and kept traces cannot be written (${[...this.stats.forwardErrors.keys()].join(', ')})`);
      }
      outcome = await this.buffer.append(request.fragments, this.clock.now());
    }
    if (outcome.late.length > 0) {
      this.loop.acceptLate(outcome.late);
      this.recorder.noteLate(outcome.late, request);
      this.recorder.noteBuffered(request, new Set(outcome.late.map((l) => l.fragment.traceId)));
    } else {
      this.recorder.noteBuffered(request, undefined);
    }
    this.stats.spansReceived += request.spanCount;
    this.stats.requestsAccepted++;
    await this.loop.runDue(this.clock.now());
  }

  /**
   * The input has ended: decide what is pending at each trace's due time, as the live engine
   * would once the traffic stops, then drain. Returns the traces that could not be forwarded.
   */
  async finish(): Promise<{ left: number }> {
    const retriedBefore = this.stats.tracesRetried;
    for (;;) {
      const next = await this.buffer.nextDueMs();
      // A sink that keeps failing would bring its traces back due forever; drain gives up on them.
      if (next === undefined || this.stats.tracesRetried > retriedBefore) break;
      this.clock.advanceTo(next);
      await this.loop.runDue(this.clock.now());
    }
    return this.loop.drain();
  }

  /** The real decision on a trace, before anything else evaluates it: a kept one's anomaly and exemplar. */
  private noteDecision(trace: TraceView, decision: TraceDecision, nowMs: number): void {
    if (!decision.keep) return;
    this.options.onKept?.(trace, nowMs);
  }

  /**
   * Decides every trace due at or before `ms`, each at its due time, then sets the clock to
   * `ms`. `accept` does this first; a caller that has more to do at the arrival time (the
   * baselines observe the request) calls it before.
   */
  async decideUntil(ms: number): Promise<void> {
    for (;;) {
      const next = await this.buffer.nextDueMs();
      if (next === undefined || next > ms) break;
      this.clock.advanceTo(next);
      await this.loop.runDue(this.clock.now());
    }
    this.clock.advanceTo(ms);
  }
}

/**
 * The policy set the decision loop sees: decides with the real set, asks the analysis set for
 * every policy's own decision, and hands both to the recorder.
 */
class RecordingPolicySet implements PolicySet {
  readonly policyNames: readonly string[];

  constructor(
    private readonly inner: PolicySet,
    private readonly analysis: OrderedPolicySet | undefined,
    private readonly recorder: ReplayRecorder,
    private readonly onDecision: (trace: TraceView, decision: TraceDecision, nowMs: number) => void,
  ) {
    this.policyNames = inner.policyNames;
  }

  decide(trace: TraceView, ctx: EvalContext): TraceDecision {
    const decision = this.inner.decide(trace, ctx);
    // Before the analysis set asks its own anomaly policies, which remember anomalies too.
    this.onDecision(trace, decision, ctx.nowMs);
    this.recorder.noteDecision(trace, decision, this.analysis?.evaluateEach(trace, ctx), ctx.nowMs);
    return decision;
  }
}
