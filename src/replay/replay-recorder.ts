import type { LateFragment } from '../buffer/trace-buffer.js';
import type { DecodedRequest } from '../otlp/types.js';
import type { TraceDecision, TraceView } from '../policies/evaluator.js';
import type { PolicyOutcome } from '../policies/policy-set.js';

/** What replay remembers about one decided trace (examples, comparisons). */
export interface TraceRecord {
  readonly traceId: string;
  /** Service and name of the root span; of the earliest span when the root never arrived. */
  readonly rootService: string;
  readonly rootName: string;
  readonly hasRoot: boolean;
  /** Earliest span start, Unix ms. */
  readonly startMs: number;
  /** Earliest span start to latest span end, ms (what the latency policy measures). */
  readonly durationMs: number;
  readonly spans: number;
  readonly errorSpans: number;
  /** Protobuf bytes of the trace's spans as buffered (see ReplaySummary.bytes). */
  readonly bytes: number;
  readonly keep: boolean;
  /** The policy that kept it (the first that sampled it), or the drop policy that dropped it. */
  readonly policy: string | undefined;
  /** Event time of the decision, Unix ms. */
  readonly decidedAtMs: number;
}

export interface PolicyCounts {
  /** Kept traces this policy was the first to sample (the policy named on their spans). */
  keptFirst: number;
  /** Kept traces this policy sampled, first or not. */
  keptAny: number;
  /** Traces this policy sampled on its own, kept or not (a drop policy may have won). */
  sampled: number;
  /** Traces this (drop) policy dropped. */
  dropped: number;
  /** Bytes of the traces it kept first. */
  bytesKeptFirst: number;
  /** Evaluations that threw. */
  errors: number;
}

export interface ServiceCounts {
  /** Traces with at least one span of the service. */
  tracesTotal: number;
  tracesKept: number;
  spansTotal: number;
  spansKept: number;
}

/** Traces that started in one second of event time. */
export interface TimeSlot {
  traces: number;
  kept: number;
}

/** Traces of one operation: root service and root span name. */
export interface OperationStats {
  readonly service: string;
  readonly name: string;
  traces: number;
  kept: number;
  /** Trace durations on a log scale: bucket index (see latencyBucket) to [all, kept]. */
  readonly histogram: Map<number, [number, number]>;
}

/** Latency histogram buckets per factor of ten; bucket i holds durations in [10^(i/B), 10^((i+1)/B)) ms. */
export const LATENCY_BUCKETS_PER_DECADE = 10;

export function latencyBucket(durationMs: number): number {
  return Math.floor(Math.log10(Math.max(durationMs, 0.001)) * LATENCY_BUCKETS_PER_DECADE);
}

/** Example kept traces shown in the report: a few per policy, so every reason is represented. */
const EXAMPLES_PER_POLICY = 10;
const MAX_EXAMPLES = 100;

/** What is known about an undecided trace: gathered at intake, where span views are cheap to read. */
class PendingTrace {
  spans = 0;
  errorSpans = 0;
  startMs = Infinity;
  endMs = -Infinity;
  /**
   * Its spans' services in first-seen order, and at the same index how many spans each has.
   * A trace has a handful of services, so a scan of two arrays costs less than a Map per trace.
   */
  readonly serviceNames: string[] = [];
  readonly serviceSpans: number[] = [];
  /** Start of the root span; Infinity until one arrives. */
  rootStartMs = Infinity;
  rootService = '';
  rootName = '';
  earliestService = '';
  earliestName = '';
  decision: TraceDecision | undefined = undefined;
  outcomes: readonly PolicyOutcome[] | undefined = undefined;
  bytes = 0;
  decidedAtMs = 0;

  countService(service: string): void {
    const names = this.serviceNames;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === service) {
        this.serviceSpans[i]++;
        return;
      }
    }
    names.push(service);
    this.serviceSpans.push(1);
  }
}

/**
 * Counts everything a replay summary and report show, from the decisions the engine makes.
 *
 * What a trace is made of (services, root, times) is gathered at intake: there the spans of
 * a request share their Resource, so `service.name` is read once per resource, while the
 * decision loop decodes each trace afresh and would read it again for every fragment. The
 * decision is noted when the policies run and counted once it is recorded, so a trace whose
 * forwarding is retried still counts once.
 */
export class ReplayRecorder {
  requests = 0;
  spansReceived = 0;
  bytesReceived = 0;
  traces = 0;
  tracesKept = 0;
  spansKept = 0;
  bytesKept = 0;
  lateSpansKept = 0;
  lateSpansDropped = 0;
  /** Spans read twice (identical fragments of one trace), forwarded once. */
  duplicateSpans = 0;
  /** Earliest span start and latest span end of everything read, Unix ms. */
  firstMs = Infinity;
  lastMs = -Infinity;
  readonly policies = new Map<string, PolicyCounts>();
  readonly services = new Map<string, ServiceCounts>();
  /** By Unix second of the trace's start. */
  readonly timeline = new Map<number, TimeSlot>();
  readonly operations = new Map<string, OperationStats>();
  readonly examples: TraceRecord[] = [];
  /** Every kept trace, when asked for (comparing two policy files needs them). */
  readonly keptTraces: Map<string, TraceRecord> | undefined;
  private readonly examplesPerPolicy = new Map<string, number>();
  private readonly pending = new Map<string, PendingTrace>();
  /** `policies` entries in `policyNames` order: the order outcomes come in. */
  private readonly countsInOrder: PolicyCounts[];
  /** `operations` by root service, then root name: no key string built per trace. */
  private readonly operationsByService = new Map<string, Map<string, OperationStats>>();
  /** The timeline slot last counted: traces are decided roughly in start order. */
  private lastSecond = NaN;
  private lastSlot: TimeSlot | undefined;

  constructor(
    readonly policyNames: readonly string[],
    options: { keepTraceRecords?: boolean } = {},
  ) {
    this.countsInOrder = policyNames.map((name) => this.policy(name));
    this.keptTraces = options.keepTraceRecords ? new Map() : undefined;
  }

  noteRequest(request: DecodedRequest): void {
    this.requests++;
    this.spansReceived += request.spanCount;
    for (const f of request.fragments) this.bytesReceived += f.byteLength;
    for (const span of request.spans) {
      if (span.startMs < this.firstMs) this.firstMs = span.startMs;
      if (span.endMs > this.lastMs) this.lastMs = span.endMs;
    }
  }

  /** The spans of `request` that entered the buffer (those of traces in `late` did not). */
  noteBuffered(request: DecodedRequest, late: ReadonlySet<string> | undefined): void {
    let last: PendingTrace | undefined;
    let lastId = '';
    for (const span of request.spans) {
      if (late !== undefined && late.has(span.traceId)) continue;
      let t = span.traceId === lastId ? last : this.pending.get(span.traceId);
      if (t === undefined) {
        t = new PendingTrace();
        this.pending.set(span.traceId, t);
      }
      last = t;
      lastId = span.traceId;
      t.spans++;
      if (span.statusCode === 2) t.errorSpans++;
      if (span.endMs > t.endMs) t.endMs = span.endMs;
      const service = span.serviceName;
      t.countService(service);
      if (span.startMs < t.startMs) {
        t.startMs = span.startMs;
        t.earliestService = service;
        t.earliestName = span.name;
      }
      // Several spans without a parent (broken instrumentation): the earliest is the root.
      if (span.parentSpanId === '' && span.startMs < t.rootStartMs) {
        t.rootStartMs = span.startMs;
        t.rootService = service;
        t.rootName = span.name;
      }
    }
  }

  /** The policies decided `trace` at `nowMs`; `outcomes` is every policy's own decision. */
  noteDecision(trace: TraceView, decision: TraceDecision, outcomes: readonly PolicyOutcome[] | undefined, nowMs: number): void {
    const t = this.pending.get(trace.traceId);
    if (t === undefined) return;
    if (trace.spans.length !== t.spans) {
      // The decision loop sets aside byte-identical fragments (a request delivered twice), so
      // the trace decided is smaller than what was read; count what it decided.
      this.duplicateSpans += t.spans - trace.spans.length;
      t.spans = trace.spans.length;
      t.errorSpans = trace.spans.filter((span) => span.statusCode === 2).length;
      t.serviceNames.length = 0;
      t.serviceSpans.length = 0;
      for (const span of trace.spans) t.countService(span.serviceName);
    }
    t.decision = decision;
    t.outcomes = outcomes;
    t.bytes = trace.byteSize;
    t.decidedAtMs = nowMs;
  }

  /** The decision of `traceId` is recorded and the trace has left the buffer. */
  decided(traceId: string): void {
    const t = this.pending.get(traceId);
    if (t === undefined || t.decision === undefined) return;
    this.pending.delete(traceId);
    const hasRoot = t.rootStartMs !== Infinity;
    const rootService = hasRoot ? t.rootService : t.earliestService;
    const rootName = hasRoot ? t.rootName : t.earliestName;
    const durationMs = Math.max(0, t.endMs - t.startMs);
    const { keep, policy } = t.decision;
    this.traces++;
    if (keep) {
      this.tracesKept++;
      this.spansKept += t.spans;
      this.bytesKept += t.bytes;
    }

    if (policy !== undefined) {
      const counts = this.policy(policy);
      if (keep) {
        counts.keptFirst++;
        counts.bytesKeptFirst += t.bytes;
      } else {
        counts.dropped++;
      }
    }
    let firstCounted = false;
    const outcomes = t.outcomes;
    if (outcomes !== undefined) {
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i];
        const inOrder = this.countsInOrder[i];
        const counts = inOrder !== undefined && this.policyNames[i] === outcome.policy ? inOrder : this.policy(outcome.policy);
        if (outcome.decision === 'sampled') {
          counts.sampled++;
          if (keep) {
            counts.keptAny++;
            if (outcome.policy === policy) firstCounted = true;
          }
        } else if (outcome.decision === 'error') {
          counts.errors++;
        }
      }
    }
    // A stateful policy evaluated on its own (its own rate budget) may decline a trace it
    // sampled in the real decision; the real decision is the fact.
    if (keep && policy !== undefined && !firstCounted) this.policy(policy).keptAny++;

    const { serviceNames, serviceSpans } = t;
    for (let i = 0; i < serviceNames.length; i++) {
      const counts = this.service(serviceNames[i]);
      const spans = serviceSpans[i];
      counts.tracesTotal++;
      counts.spansTotal += spans;
      if (keep) {
        counts.tracesKept++;
        counts.spansKept += spans;
      }
    }

    const second = Math.floor(t.startMs / 1000);
    let slot = second === this.lastSecond ? this.lastSlot : this.timeline.get(second);
    if (slot === undefined) this.timeline.set(second, (slot = { traces: 0, kept: 0 }));
    this.lastSecond = second;
    this.lastSlot = slot;
    slot.traces++;
    if (keep) slot.kept++;

    const op = this.operation(rootService, rootName);
    op.traces++;
    const bucket = latencyBucket(durationMs);
    let bar = op.histogram.get(bucket);
    if (bar === undefined) op.histogram.set(bucket, (bar = [0, 0]));
    bar[0]++;
    if (keep) {
      op.kept++;
      bar[1]++;
    }

    if (keep) {
      // Records only for kept traces: nothing shows a dropped one on its own.
      const record: TraceRecord = {
        traceId,
        rootService,
        rootName,
        hasRoot,
        startMs: t.startMs,
        durationMs,
        spans: t.spans,
        errorSpans: t.errorSpans,
        bytes: t.bytes,
        keep,
        policy,
        decidedAtMs: t.decidedAtMs,
      };
      this.keptTraces?.set(traceId, record);
      const reason = policy ?? '';
      const shown = this.examplesPerPolicy.get(reason) ?? 0;
      if (shown < EXAMPLES_PER_POLICY && this.examples.length < MAX_EXAMPLES) {
        this.examplesPerPolicy.set(reason, shown + 1);
        this.examples.push(record);
      }
    }
  }

  /** Spans of already decided traces, found at intake; they follow the recorded decision. */
  noteLate(late: readonly LateFragment[], request: DecodedRequest): void {
    const lateIds = new Set(late.map((l) => l.fragment.traceId));
    const keepById = new Map(late.map((l) => [l.fragment.traceId, l.decision.keep]));
    for (const l of late) {
      if (l.decision.keep) {
        this.lateSpansKept += l.fragment.spanCount;
        this.spansKept += l.fragment.spanCount;
        this.bytesKept += l.fragment.byteLength;
      } else {
        this.lateSpansDropped += l.fragment.spanCount;
      }
    }
    for (const span of request.spans) {
      if (!lateIds.has(span.traceId)) continue;
      const counts = this.service(span.serviceName);
      counts.spansTotal++;
      if (keepById.get(span.traceId)) counts.spansKept++;
    }
  }

  /** Traces analysed but not yet recorded as decided. */
  get undecided(): number {
    return this.pending.size;
  }

  private policy(name: string): PolicyCounts {
    let counts = this.policies.get(name);
    if (counts === undefined) {
      counts = { keptFirst: 0, keptAny: 0, sampled: 0, dropped: 0, bytesKeptFirst: 0, errors: 0 };
      this.policies.set(name, counts);
    }
    return counts;
  }

  private operation(service: string, name: string): OperationStats {
    let byName = this.operationsByService.get(service);
    if (byName === undefined) this.operationsByService.set(service, (byName = new Map()));
    let op = byName.get(name);
    if (op === undefined) {
      op = { service, name, traces: 0, kept: 0, histogram: new Map() };
      byName.set(name, op);
      this.operations.set(`${service}\u0000${name}`, op);
    }
    return op;
  }

  private service(name: string): ServiceCounts {
    let counts = this.services.get(name);
    if (counts === undefined) {
      counts = { tracesTotal: 0, tracesKept: 0, spansTotal: 0, spansKept: 0 };
      this.services.set(name, counts);
    }
    return counts;
  }
}
