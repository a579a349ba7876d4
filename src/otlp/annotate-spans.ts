import { ProtobufReader } from './protobuf-reader.js';
import { varintSize, writeVarint } from './varint-writer.js';

/** One attribute to add to spans: strings become `string_value`, numbers `double_value`. */
export interface SpanAttribute {
  readonly key: string;
  readonly value: string | number;
}

/**
 * Adds attributes to every span of a fragment (a run of ExportTraceServiceRequest
 * `resource_spans` fields, or a whole request) without decoding it.
 *
 * Each Span message gets the attributes appended as `attributes` fields (field 9); a span
 * attribute that already has one of the keys is left out first, so a trace that passes
 * through tailsift twice (a replay of kept traces) carries each key once, with the newer
 * value. Only the lengths of the enclosing Span, ScopeSpans and ResourceSpans messages are
 * written anew; every other byte is copied as it was, in the same order.
 *
 * With no attributes the input itself is returned. The input must be well-formed (fragments
 * from the decoder are); otherwise an OtlpDecodeError is thrown.
 */
export function annotateSpans(fragment: Uint8Array, attrs: readonly SpanAttribute[]): Uint8Array {
  if (attrs.length === 0) return fragment;
  if (attrs !== lastAttrs) {
    // The fragments of one trace come with the same list: encode it once for all of them.
    lastAttrs = attrs;
    lastKeys = attrs.map((a) => encoder.encode(a.key));
    lastFields = encodeAttributeFields(attrs, lastKeys);
  }
  return new SpanAnnotator(fragment, lastKeys, lastFields).run();
}

let lastAttrs: readonly SpanAttribute[] | undefined;
let lastKeys: readonly Uint8Array[] = [];
let lastFields: Uint8Array = new Uint8Array(0);

const encoder = new TextEncoder();

/** Tags of the fields the annotator walks into; everything else is copied whole. */
const RESOURCE_SPANS_TAG = 0x0a; // ExportTraceServiceRequest.resource_spans = 1
const SCOPE_SPANS_TAG = 0x12; // ResourceSpans.scope_spans = 2
const SPAN_TAG = 0x12; // ScopeSpans.spans = 2
const ATTRIBUTE_TAG = 0x4a; // Span.attributes = 9
/** The nested field followed at each depth, from the request down to the spans. */
const PATH_TAGS = [RESOURCE_SPANS_TAG, SCOPE_SPANS_TAG, SPAN_TAG];
const KEY_TAG = 0x0a; // KeyValue.key = 1

class SpanAnnotator {
  private readonly r: ProtobufReader;
  private readonly extra: Uint8Array;
  private readonly keys: readonly Uint8Array[];
  /**
   * New message sizes in pre-order (a ResourceSpans, then its first ScopeSpans, then that
   * scope's spans, ...): the measuring pass fills it, the writing pass reads it in the same
   * order, so each length prefix is known before its message is written.
   */
  private readonly sizes: number[] = [];
  private next = 0;
  private out = new Uint8Array(0);
  private p = 0;

  constructor(
    private readonly buf: Uint8Array,
    keys: readonly Uint8Array[],
    extra: Uint8Array,
  ) {
    this.r = new ProtobufReader(buf);
    this.keys = keys;
    this.extra = extra;
  }

  run(): Uint8Array {
    const total = this.measure(0);
    this.out = new Uint8Array(total);
    this.r.pos = 0;
    this.r.end = this.buf.length;
    this.write(0);
    if (this.p !== total) throw new Error(`annotated size mismatch: wrote ${this.p} of ${total} bytes`);
    return this.out;
  }

  /**
   * New size of the message being read at `depth` (0: the request, then ResourceSpans,
   * ScopeSpans); the messages on the path to the spans are recorded in `sizes`.
   */
  private measure(depth: number): number {
    const r = this.r;
    const slot = depth === 0 ? -1 : this.sizes.push(0) - 1;
    const pathTag = PATH_TAGS[depth];
    let size = 0;
    while (r.pos < r.end) {
      const at = r.pos;
      const t = r.tag();
      if (t === pathTag) {
        const outer = r.enter();
        const inner = depth + 1 === PATH_TAGS.length ? this.measureSpan() : this.measure(depth + 1);
        r.leave(outer);
        size += 1 + varintSize(inner) + inner;
      } else {
        r.skipField(t & 7);
        size += r.pos - at;
      }
    }
    if (slot >= 0) this.sizes[slot] = size;
    return size;
  }

  private measureSpan(): number {
    const r = this.r;
    const start = r.pos;
    let replaced = 0;
    while (r.pos < r.end) {
      const at = r.pos;
      const t = r.tag();
      if (t === ATTRIBUTE_TAG) {
        const len = r.length();
        const end = r.pos + len;
        if (this.hasOneOfOurKeys(r.pos, end)) replaced += end - at;
        r.pos = end;
      } else {
        r.skipField(t & 7);
      }
    }
    const size = r.pos - start - replaced + this.extra.length;
    this.sizes.push(size);
    return size;
  }

  /** Writes the message being read at `depth` with its new lengths, in the order `measure` recorded them. */
  private write(depth: number): void {
    const r = this.r;
    const pathTag = PATH_TAGS[depth];
    while (r.pos < r.end) {
      const at = r.pos;
      const t = r.tag();
      if (t === pathTag) {
        const size = this.header(pathTag);
        const outer = r.enter();
        if (depth + 1 === PATH_TAGS.length) this.writeSpan(size);
        else this.write(depth + 1);
        r.leave(outer);
      } else {
        r.skipField(t & 7);
        this.copy(at, r.pos);
      }
    }
  }

  private writeSpan(size: number): void {
    const r = this.r;
    if (size === r.end - r.pos + this.extra.length) {
      // Nothing to leave out (the common case): the span as it was, then the attributes.
      this.copy(r.pos, r.end);
      r.pos = r.end;
    } else {
      while (r.pos < r.end) {
        const at = r.pos;
        const t = r.tag();
        if (t === ATTRIBUTE_TAG) {
          const len = r.length();
          const end = r.pos + len;
          if (!this.hasOneOfOurKeys(r.pos, end)) this.copy(at, end);
          r.pos = end;
        } else {
          r.skipField(t & 7);
          this.copy(at, r.pos);
        }
      }
    }
    this.out.set(this.extra, this.p);
    this.p += this.extra.length;
  }

  /** Writes a tag and the next precomputed length; returns that length. */
  private header(tag: number): number {
    const size = this.sizes[this.next++];
    this.out[this.p++] = tag;
    this.p = writeVarint(this.out, this.p, size);
    return size;
  }

  private copy(start: number, end: number): void {
    this.out.set(this.buf.subarray(start, end), this.p);
    this.p += end - start;
  }

  /** Whether the KeyValue in [start, end) has one of the keys being added (its last `key` counts, as in protobuf). */
  private hasOneOfOurKeys(start: number, end: number): boolean {
    const buf = this.buf;
    // Nearly every KeyValue is `key` (short) then `value` to its end: read the key in place.
    if (buf[start] === KEY_TAG && buf[start + 1] < 0x80) {
      const keyAt = start + 2;
      const keyLen = buf[start + 1];
      const valueAt = keyAt + keyLen;
      if (valueAt === end || (buf[valueAt] === 0x12 && buf[valueAt + 1] < 0x80 && valueAt + 2 + buf[valueAt + 1] === end)) {
        return this.isOurKey(keyAt, keyLen);
      }
    }
    const r = this.r;
    const savedPos = r.pos;
    const savedEnd = r.end;
    r.pos = start;
    r.end = end;
    let keyAt = -1;
    let keyLen = 0;
    while (r.pos < r.end) {
      const t = r.tag();
      if (t === KEY_TAG) {
        keyLen = r.length();
        keyAt = r.pos;
        r.pos += keyLen;
      } else {
        r.skipField(t & 7);
      }
    }
    r.pos = savedPos;
    r.end = savedEnd;
    return keyAt >= 0 && this.isOurKey(keyAt, keyLen);
  }

  private isOurKey(at: number, len: number): boolean {
    const buf = this.buf;
    for (const key of this.keys) {
      if (key.length !== len) continue;
      let i = 0;
      while (i < len && buf[at + i] === key[i]) i++;
      if (i === len) return true;
    }
    return false;
  }
}

/** The `attributes` fields (tag, length, KeyValue) for every attribute, back to back. */
function encodeAttributeFields(attrs: readonly SpanAttribute[], keys: readonly Uint8Array[]): Uint8Array {
  const parts: number[] = [];
  attrs.forEach((attr, i) => {
    const value = encodeAnyValue(attr.value);
    const keyValue = [KEY_TAG, ...varintBytes(keys[i].length), ...keys[i], 0x12, ...varintBytes(value.length), ...value];
    parts.push(ATTRIBUTE_TAG, ...varintBytes(keyValue.length), ...keyValue);
  });
  return Uint8Array.from(parts);
}

function encodeAnyValue(value: string | number): number[] {
  if (typeof value === 'string') {
    const bytes = encoder.encode(value);
    return [0x0a, ...varintBytes(bytes.length), ...bytes]; // AnyValue.string_value = 1
  }
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return [0x21, ...bytes]; // AnyValue.double_value = 4, fixed64
}

function varintBytes(value: number): number[] {
  const out = new Uint8Array(10);
  return [...out.subarray(0, writeVarint(out, 0, value))];
}

