import type { StoredFragment, TraceFragment } from '../otlp/types.js';

/**
 * Where spans wait, grouped by trace, until their trace is due for a decision.
 *
 * Completion follows the OpenTelemetry Collector: a trace is due `decisionWaitMs` after its
 * first span arrived, or `decisionWaitAfterRootMs` after its root span arrived when that is
 * earlier, or at once when it reaches `maxSpansPerTrace`. A full buffer refuses intake; it
 * never evicts an undecided trace. Spans of an already decided trace follow the recorded
 * decision (the decision cache).
 *
 * Two homes with the same semantics: memory (embedded default, tests) and Redis (production,
 * shared by many instances through leases on claimed traces).
 */
export interface TraceBuffer {
  /**
   * Adds a request's fragments, all or nothing. Fragments of traces with a recorded decision
   * are not buffered; they come back in `late` with that decision.
   */
  append(fragments: readonly TraceFragment[], nowMs: number): Promise<AppendOutcome>;
  /** Claims up to `max` traces due at `nowMs`, oldest due first. A claim is a lease. */
  claimDue(nowMs: number, max: number): Promise<DueTrace[]>;
  /**
   * Records the decision for a claimed trace and removes the fragments the claim returned.
   * Fragments that arrived after the claim are returned: they are late spans that follow
   * the decision.
   */
  complete(trace: DueTrace, decision: RecordedDecision, nowMs: number): Promise<Uint8Array[]>;
  /**
   * `complete` for many claimed traces at once (one round trip to Redis instead of one per
   * trace). Returns each trace's late fragments, in the order of `decided`.
   */
  completeMany(decided: readonly CompletedTrace[], nowMs: number): Promise<Uint8Array[][]>;
  /** Gives a claimed trace back undecided, due again at `retryAtMs` (a sink was down). */
  release(trace: DueTrace, retryAtMs: number): Promise<void>;
  /** Undecided traces and their spans, claimed or not. */
  pending(): Promise<PendingCounts>;
  /** The earliest due time of an unclaimed trace, if any (replay uses it to skip ahead). */
  nextDueMs(): Promise<number | undefined>;
  /** Releases resources. Idempotent. Pending traces stay where they are (Redis) or are lost with the process (memory), so drain first. */
  close(): Promise<void>;
}

export interface CompletionSettings {
  /** Time from a trace's first span to its decision, ms (`decision_wait`). */
  readonly decisionWaitMs: number;
  /** Time from the root span's arrival to the decision, ms, when earlier (`decision_wait_after_root_received`); undefined: off. */
  readonly decisionWaitAfterRootMs: number | undefined;
  /** A trace reaching this many spans is due at once; later spans follow its decision. */
  readonly maxSpansPerTrace: number;
  /**
   * A trace growing past this many bytes (as received) is due at once, so it stops taking
   * memory; later spans follow its decision (`maximum_trace_size_bytes`). Undefined: no limit.
   */
  readonly maxTraceBytes?: number;
  /** Undecided traces held at most (`num_traces`); past it intake is refused, never evicted. */
  readonly maxTraces: number;
  /** Decisions remembered for late spans: kept and dropped traces (`decision_cache`). */
  readonly sampledCacheSize: number;
  readonly nonSampledCacheSize: number;
}

export type AppendOutcome =
  | { readonly status: 'accepted'; readonly late: readonly LateFragment[] }
  | { readonly status: 'full'; readonly reason: string; readonly retryAfterMs: number };

/** Spans of a trace that was already decided. */
export interface LateFragment {
  readonly fragment: TraceFragment;
  readonly decision: RecordedDecision;
}

export interface RecordedDecision {
  readonly keep: boolean;
  /** The policy that kept or dropped the trace, when one did. */
  readonly policy: string | undefined;
}

/** A claimed trace and the decision to record for it. */
export interface CompletedTrace {
  readonly trace: DueTrace;
  readonly decision: RecordedDecision;
}

export interface DueTrace {
  readonly traceId: string;
  /**
   * The buffered fragments, in arrival order; their bytes concatenated are an
   * ExportTraceServiceRequest. The memory buffer hands back the fragments it was given (with
   * the spans read at intake, bytes written on first use); Redis hands back bytes.
   */
  readonly fragments: readonly StoredFragment[];
  readonly spanCount: number;
  readonly firstSeenMs: number;
  /** When the trace became due; the decision delay is measured from here. */
  readonly dueMs: number;
}

export interface PendingCounts {
  readonly traces: number;
  readonly spans: number;
}
