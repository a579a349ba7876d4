import type { AttrValue, SpanEventView, SpanView } from './types.js';
import { readAttributeFields, readSpanEvents } from './attribute-decoding.js';
import { hex8 } from './hex.js';

/**
 * One ResourceSpans of a decoded request: where its Resource messages are (for lazy
 * attributes, shared by all its spans) and the original bytes of every field other than
 * scope_spans (resource, schema_url, unknown fields), which the fragment writer copies.
 */
export class ResourceSpansFrame {
  readonly buf: Uint8Array;
  /** [start, end) pairs of Resource message payloads; usually one, several merge. */
  readonly resourceRanges: number[] = [];
  /** [start, end) pairs of whole non-scope_spans fields, tag included. */
  readonly otherFields: number[] = [];
  otherBytes = 0;
  /** Those fields' bytes joined, once the fragment writer needed them. */
  otherCopy: Uint8Array | undefined = undefined;
  /** Envelopes of runs with several of its scopes, by their scopes' indexes (see FragmentResource). */
  envelopes: Map<string, Uint8Array> | undefined = undefined;
  private attrs: Map<string, AttrValue> | undefined;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  attributes(): ReadonlyMap<string, AttrValue> {
    if (this.attrs === undefined) {
      const attrs = new Map<string, AttrValue>();
      const ranges = this.resourceRanges;
      for (let i = 0; i < ranges.length; i += 2) readAttributeFields(this.buf, ranges[i], ranges[i + 1], 0x0a, attrs);
      this.attrs = attrs;
    }
    return this.attrs;
  }

  get serviceName(): string {
    const name = this.attributes().get('service.name');
    return typeof name === 'string' ? name : '';
  }
}

/** One ScopeSpans: its resource and the original bytes of every field other than spans. */
export class ScopeSpansFrame {
  readonly resource: ResourceSpansFrame;
  /** Its position among the request's ScopeSpans. */
  readonly index: number;
  readonly otherFields: number[] = [];
  otherBytes = 0;
  /** Those fields' bytes joined, once the fragment writer needed them. */
  otherCopy: Uint8Array | undefined = undefined;
  /** The envelope of a resource run with this scope alone, once asked for (see FragmentResource). */
  envelope: Uint8Array | undefined = undefined;

  constructor(resource: ResourceSpansFrame, index: number) {
    this.resource = resource;
    this.index = index;
  }
}

/**
 * A span read selectively from protobuf: the eagerly read fields are plain properties, the
 * rest is read from `buf[start, end)` (the Span message payload) on first use and cached.
 * It points into the decoded buffer, which must not be mutated while the view is in use.
 */
export class ProtobufSpanView implements SpanView {
  readonly buf: Uint8Array;
  /** The Span message payload, without its tag and length. */
  readonly start: number;
  readonly end: number;
  readonly scope: ScopeSpansFrame;
  readonly traceId: string;
  /** Where the 8 span id bytes are in `buf`. */
  readonly spanAt: number;
  /** Where the 8 parent id bytes are in `buf`, -1 for a root span. */
  readonly parentAt: number;
  readonly name: string;
  readonly kind: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly statusCode: number;
  readonly traceState: string;
  readonly flags: number;
  private attrs: Map<string, AttrValue> | undefined;
  private eventList: readonly SpanEventView[] | undefined;
  // Ids as hex on first use: intake groups by trace id alone, and most spans' own ids are
  // never read (only policies over span ids and the new-edge check read them).
  private spanIdText: string | undefined;
  private parentIdText: string | undefined;

  constructor(
    buf: Uint8Array,
    start: number,
    end: number,
    scope: ScopeSpansFrame,
    traceId: string,
    spanAt: number,
    parentAt: number,
    name: string,
    kind: number,
    startMs: number,
    endMs: number,
    statusCode: number,
    traceState: string,
    flags: number,
  ) {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.scope = scope;
    this.traceId = traceId;
    this.spanAt = spanAt;
    this.parentAt = parentAt;
    this.name = name;
    this.kind = kind;
    this.startMs = startMs;
    this.endMs = endMs;
    this.statusCode = statusCode;
    this.traceState = traceState;
    this.flags = flags;
    this.attrs = undefined;
    this.eventList = undefined;
    this.spanIdText = undefined;
    this.parentIdText = undefined;
  }

  /** 16 lowercase hex characters. */
  get spanId(): string {
    if (this.spanIdText === undefined) this.spanIdText = hex8(this.buf, this.spanAt);
    return this.spanIdText;
  }

  /** 16 lowercase hex characters, '' for a root span. */
  get parentSpanId(): string {
    if (this.parentIdText === undefined) this.parentIdText = this.parentAt < 0 ? '' : hex8(this.buf, this.parentAt);
    return this.parentIdText;
  }

  /** The span's protobuf bytes (the Span message payload), a view into the decoded buffer. */
  bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  attribute(key: string): AttrValue | undefined {
    return this.attributes().get(key);
  }

  attributes(): ReadonlyMap<string, AttrValue> {
    if (this.attrs === undefined) {
      const attrs = new Map<string, AttrValue>();
      readAttributeFields(this.buf, this.start, this.end, 0x4a, attrs);
      this.attrs = attrs;
    }
    return this.attrs;
  }

  resourceAttribute(key: string): AttrValue | undefined {
    return this.scope.resource.attributes().get(key);
  }

  resourceAttributes(): ReadonlyMap<string, AttrValue> {
    return this.scope.resource.attributes();
  }

  get serviceName(): string {
    return this.scope.resource.serviceName;
  }

  events(): readonly SpanEventView[] {
    if (this.eventList === undefined) this.eventList = readSpanEvents(this.buf, this.start, this.end);
    return this.eventList;
  }
}
