import type { KeptBatch, TraceSink } from '../forward/sink.js';
import { annotateSpans, type SpanAttribute } from '../otlp/annotate-spans.js';
import { concatRequests } from '../otlp/concat.js';
import { hex16 } from '../otlp/hex.js';
import { ProtobufReader } from '../otlp/protobuf-reader.js';

const RESOURCE_SPANS_TAG = 0x0a; // ExportTraceServiceRequest.resource_spans = 1
const SCOPE_SPANS_TAG = 0x12; // ResourceSpans.scope_spans = 2
const SPAN_TAG = 0x12; // ScopeSpans.spans = 2
const TRACE_ID_TAG = 0x0a; // Span.trace_id = 1

/**
 * Adds `tailsift.anomaly.score` and `tailsift.anomaly.reason` to the spans of kept anomalous
 * traces on their way to a sink.
 *
 * The decision loop annotates kept spans with the decision's own attributes only (policy,
 * sample rate), so replay adds the anomaly's here, per trace. A kept batch is a run of
 * ResourceSpans each holding the spans of one trace (the buffer's fragments, see
 * TraceFragment; kept late spans too), so each ResourceSpans is annotated whole, looked up by
 * the trace id of its first span. Batches without an anomalous trace pass through untouched.
 */
export class AnomalyAttributesSink implements TraceSink {
  readonly name: string;

  constructor(
    private readonly inner: TraceSink,
    /** Attributes by trace id, for the kept traces that have some. */
    private readonly attributes: ReadonlyMap<string, readonly SpanAttribute[]>,
  ) {
    this.name = inner.name;
  }

  send(batch: KeptBatch): Promise<void> {
    return this.inner.send(this.attributes.size === 0 ? batch : { ...batch, request: annotateByTrace(batch.request, this.attributes) });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * `request` with each ResourceSpans whose trace has attributes in `byTrace` annotated with
 * them; the request itself when none has. Every other byte is kept as it was, in order.
 */
export function annotateByTrace(request: Uint8Array, byTrace: ReadonlyMap<string, readonly SpanAttribute[]>): Uint8Array {
  const parts: Uint8Array[] = [];
  let copiedTo = 0;
  const r = new ProtobufReader(request);
  while (!r.atEnd()) {
    const start = r.pos;
    const tag = r.tag();
    if (tag !== RESOURCE_SPANS_TAG) {
      r.skip(tag & 7);
      continue;
    }
    const length = r.length();
    const end = r.pos + length;
    const traceId = firstTraceId(new ProtobufReader(request, r.pos, end));
    r.pos = end;
    const attrs = traceId === undefined ? undefined : byTrace.get(traceId);
    if (attrs === undefined) continue;
    if (start > copiedTo) parts.push(request.subarray(copiedTo, start));
    parts.push(annotateSpans(request.subarray(start, end), attrs));
    copiedTo = end;
  }
  if (parts.length === 0) return request;
  if (copiedTo < request.length) parts.push(request.subarray(copiedTo));
  return concatRequests(parts);
}

/** The trace id of the first span of a ResourceSpans message (the reader spans its body). */
function firstTraceId(r: ProtobufReader): string | undefined {
  while (!r.atEnd()) {
    const tag = r.tag();
    if (tag !== SCOPE_SPANS_TAG) {
      r.skip(tag & 7);
      continue;
    }
    const resourceEnd = r.enter();
    while (!r.atEnd()) {
      const scopeTag = r.tag();
      if (scopeTag !== SPAN_TAG) {
        r.skip(scopeTag & 7);
        continue;
      }
      const scopeEnd = r.enter();
      while (!r.atEnd()) {
        const spanTag = r.tag();
        if (spanTag === TRACE_ID_TAG) {
          const length = r.length();
          return length === 16 ? hex16(r.buf, r.pos) : undefined;
        }
        r.skip(spanTag & 7);
      }
      r.leave(scopeEnd);
    }
    r.leave(resourceEnd);
  }
  return undefined;
}
