/**
 * What the OTLP stage hands to the rest of the engine.
 *
 * The protobuf bytes a client sent are the unit of storage and forwarding: a span is read
 * selectively (ids, name, kind, times, status; attributes on demand) and a kept trace is
 * forwarded by re-wrapping its original Resource/Scope/Span bytes, never re-encoded.
 */

import type { OtlpDecodeError } from '../errors.js';

/** An OTLP AnyValue as policies see it. int64 values become numbers (exact up to 2^53). */
export type AttrValue = string | number | boolean | Uint8Array | AttrValue[] | { [key: string]: AttrValue };

/** One span, read selectively from its protobuf bytes. */
export interface SpanView {
  /** 32 lowercase hex characters. */
  readonly traceId: string;
  /** 16 lowercase hex characters. */
  readonly spanId: string;
  /** 16 lowercase hex characters, or '' when the span has no parent (a root span). */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  /** Start and end as Unix milliseconds with a fractional part (sub-microsecond precision). */
  readonly startMs: number;
  readonly endMs: number;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly traceState: string;
  /** W3C trace flags from the span's `flags` field (0 when absent). */
  readonly flags: number;
  /** The span's own attribute, decoded on first use. */
  attribute(key: string): AttrValue | undefined;
  /** An attribute of the span's Resource (e.g. `service.name`). */
  resourceAttribute(key: string): AttrValue | undefined;
  /** All span attributes, decoded on first use. */
  attributes(): ReadonlyMap<string, AttrValue>;
  /** All resource attributes, decoded on first use and shared by the resource's spans. */
  resourceAttributes(): ReadonlyMap<string, AttrValue>;
  /** `service.name` of the span's resource, '' when absent. */
  readonly serviceName: string;
  /** Span events (name, time, attributes), decoded on first use. */
  events(): readonly SpanEventView[];
}

export interface SpanEventView {
  readonly name: string;
  readonly timeMs: number;
  readonly attributes: ReadonlyMap<string, AttrValue>;
}

/**
 * The spans of one trace found in one request, as protobuf bytes ready to forward.
 *
 * `bytes` is a run of `ExportTraceServiceRequest.resource_spans` fields (tag 1, length,
 * ResourceSpans) that holds only this trace's spans, each under a copy of its original
 * Resource and InstrumentationScope. Any concatenation of fragments is itself a valid
 * ExportTraceServiceRequest, which is how a whole trace is forwarded.
 *
 * A fragment split from a decoded request refers to that request instead of copying it:
 * `bytes` is written on first use (most traces are dropped and never need them), `spans`
 * are read from the request when asked for and `layout` says where each part lies, for
 * writers that re-frame the spans without parsing `bytes`. Such a fragment keeps its request
 * alive.
 */
export interface TraceFragment extends StoredFragment {
  readonly traceId: string;
  readonly spanCount: number;
  /** True when one of the spans has no parent. */
  readonly hasRoot: boolean;
  /** Where the fragment's parts lie in the request it was split from; undefined when it was not split from one. */
  readonly layout?: FragmentLayout;
}

/** Fragment bytes as a trace buffer keeps and hands them back. */
export interface StoredFragment {
  /** The fragment's protobuf bytes; may be written on first use. */
  readonly bytes: Uint8Array;
  /** `bytes.length`, known without writing them. */
  readonly byteLength: number;
  /**
   * The spans, when the fragment knows where they lie: a fragment split from a request reads
   * them from the request on first use, without checking them again (the decode did), so
   * evaluation need not decode `bytes`.
   */
  readonly spans?: readonly SpanView[];
}

/**
 * A fragment as envelopes and span payloads: what `bytes` is made of, without the tags and
 * lengths around them.
 */
export interface FragmentLayout {
  /** The bytes `spanRanges` point into. */
  readonly source: Uint8Array;
  /** One per resource_spans field of the fragment, in order. */
  readonly resources: readonly FragmentResource[];
}

export interface FragmentResource {
  /**
   * Everything of the ResourceSpans but its spans: its fields other than scope_spans, then
   * for each of its ScopeSpans the fields other than spans, each block as a varint length
   * followed by the bytes. Fragments of one request whose runs have the same Resource and
   * scopes share the same array, so it can be cached by identity; never mutate it.
   */
  readonly envelope: Uint8Array;
  /** Spans in each ScopeSpans, in order. */
  readonly scopeSpanCounts: readonly number[];
  /** [start, end) in `source` of each span's payload (the Span message without its tag and length). */
  readonly spanRanges: readonly number[];
}

/** A decoded ExportTraceServiceRequest: every span with its request grouped by trace. */
export interface DecodedRequest {
  /**
   * Every span, in request order. The views read lazily from the decoded buffer, which must
   * not be mutated while they are in use; fragments are copies and do not depend on it.
   */
  readonly spans: readonly SpanView[];
  /** One fragment per trace id present in the request, in first-seen order. */
  readonly fragments: readonly TraceFragment[];
  readonly spanCount: number;
}

export type DecodeResult =
  | { readonly ok: true; readonly value: DecodedRequest }
  | { readonly ok: false; readonly error: OtlpDecodeError };
