import { OtlpDecodeError } from '../errors.js';
import type { DecodeResult, DecodedRequest, FragmentLayout, FragmentResource, SpanView, TraceFragment } from './types.js';
import { ProtobufReader } from './protobuf-reader.js';
import { hex16 } from './hex.js';
import { decodeUtf8, decodeUtf8Cached } from './utf8.js';
import { ProtobufSpanView, ResourceSpansFrame, ScopeSpansFrame } from './span-view.js';
import {
  EXPORT_REQUEST,
  RESOURCE_SPANS,
  SCOPE_SPANS,
  SPAN,
  STATUS,
  skipOther,
  validateAttributeRun,
  validateEvent,
  validateLink,
  validateResource,
  validateScope,
} from './wire-validation.js';
import { varintSize, writeVarint } from './varint-writer.js';

export interface DecodeOptions {
  /**
   * Bound on the total size of the per-trace fragments, as a multiple of the request size
   * (plus 64 KiB). Each fragment repeats its spans' Resource and scope, so a request with a
   * large resource and many single-span traces multiplies in memory; past this bound the
   * request is rejected instead. Default 64.
   */
  readonly maxExpansion?: number;
}

const DEFAULT_MAX_EXPANSION = 64;
const EXPANSION_SLACK_BYTES = 64 * 1024;

interface TraceGroup {
  readonly traceId: string;
  /** Where the trace id's bytes are in the request, to compare ids without hex. */
  readonly traceAt: number;
  /** [start, end) of each of its spans' payload in the request, in request order. */
  readonly ranges: number[];
  /** Each span's ScopeSpans, in the same order. */
  readonly scopes: ScopeSpansFrame[];
  hasRoot: boolean;
}

/**
 * Decodes an OTLP ExportTraceServiceRequest selectively and splits it by trace.
 *
 * Reads the ids, name, kind, times, status code, trace state and flags of every span;
 * checks (without building anything) that attributes, events, links, resources and scopes
 * are well-formed, so their lazy decoding cannot fail later; skips unknown fields at every
 * level. Never throws: malformed input gives `{ ok: false, error }` with the reason, where
 * it was found (e.g. `resource_spans[0].scope_spans[1].spans[3]`) and the byte offset.
 *
 * The returned span views and fragments point into `buf`, which must not be mutated
 * afterwards; a fragment's bytes are written (copied out of `buf`) on first use.
 */
export function decodeProtobufRequest(buf: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const decoder = new RequestDecoder(buf);
  try {
    decoder.decode();
    const maxBytes = (options.maxExpansion ?? DEFAULT_MAX_EXPANSION) * buf.length + EXPANSION_SLACK_BYTES;
    const value: DecodedRequest = {
      spans: decoder.spans,
      fragments: splitFragments(decoder.groups, buf, maxBytes),
      spanCount: decoder.spans.length,
    };
    return { ok: true, value };
  } catch (err) {
    if (err instanceof OtlpDecodeError) return { ok: false, error: decoder.locate(err) };
    throw err;
  }
}

/**
 * Decodes without splitting by trace: the spans alone, `fragments` empty. For callers that
 * only read spans (and for measuring what the split costs).
 */
export function decodeProtobufSpans(buf: Uint8Array): DecodeResult {
  const decoder = new RequestDecoder(buf);
  try {
    decoder.decode();
    return { ok: true, value: { spans: decoder.spans, fragments: [], spanCount: decoder.spans.length } };
  } catch (err) {
    if (err instanceof OtlpDecodeError) return { ok: false, error: decoder.locate(err) };
    throw err;
  }
}

class RequestDecoder {
  readonly buf: Uint8Array;
  /** The same bytes, for reading ids as 32-bit words (several times faster than bytes). */
  readonly view: DataView;
  readonly r: ProtobufReader;
  readonly spans: ProtobufSpanView[] = [];
  /** One per trace id in first-seen order. */
  readonly groups: TraceGroup[] = [];
  private groupById: Map<string, TraceGroup> | undefined = undefined;
  /**
   * The last group seen per 30-bit hash of the id bytes: a hit (checked byte by byte) skips
   * the hex conversion and the string-keyed lookup. A miss, collision or not, falls back to
   * `groupById`, so crafted colliding ids cost a string lookup each, never a long chain.
   */
  private groupByHash: Map<number, TraceGroup> | undefined = undefined;
  // Where decoding is, for error messages; -1 when outside that level.
  private resourceIndex = -1;
  private scopeIndex = -1;
  private spanIndex = -1;
  // Spans of one trace often come in a row: one 16-byte comparison finds their group.
  private prevGroup: TraceGroup | undefined;
  private scopeCount = 0;
  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.r = new ProtobufReader(buf);
  }

  decode(): void {
    const r = this.r;
    let resourceIndex = 0;
    while (r.pos < r.end) {
      const t = r.tag();
      if (t === 0x0a) {
        this.resourceIndex = resourceIndex++;
        const outer = r.enter();
        this.resourceSpans();
        r.leave(outer);
        this.resourceIndex = -1;
      } else {
        skipOther(r, t, EXPORT_REQUEST);
      }
    }
  }

  /** The group of the trace whose 16 id bytes are at `traceAt`, created on first sight. */
  private groupOf(traceAt: number): TraceGroup {
    const view = this.view;
    const prev = this.prevGroup;
    if (prev !== undefined && sameId16(view, prev.traceAt, traceAt)) return prev;
    const hash = hashId16(view, traceAt);
    const byHash = (this.groupByHash ??= new Map());
    let group = byHash.get(hash);
    if (group === undefined || !sameId16(view, group.traceAt, traceAt)) {
      if (isZeroId(view, traceAt, 16)) throw new OtlpDecodeError('Span.trace_id: all zero (an invalid trace id)', traceAt);
      const traceId = hex16(this.buf, traceAt);
      const byId = (this.groupById ??= new Map());
      group = byId.get(traceId);
      if (group === undefined) {
        group = { traceId, traceAt, ranges: [], scopes: [], hasRoot: false };
        byId.set(traceId, group);
        this.groups.push(group);
      }
      byHash.set(hash, group);
    }
    this.prevGroup = group;
    return group;
  }

  /** Prefixes an error with the path of the message where it happened. */
  locate(err: OtlpDecodeError): OtlpDecodeError {
    if (this.resourceIndex < 0) return err;
    let path = `resource_spans[${this.resourceIndex}]`;
    if (this.scopeIndex >= 0) path += `.scope_spans[${this.scopeIndex}]`;
    if (this.spanIndex >= 0) path += `.spans[${this.spanIndex}]`;
    const suffix = err.offset === undefined ? '' : ` (at byte ${err.offset})`;
    const reason = err.message.endsWith(suffix) ? err.message.slice(0, err.message.length - suffix.length) : err.message;
    return new OtlpDecodeError(`${path}: ${reason}`, err.offset);
  }

  private resourceSpans(): void {
    const r = this.r;
    const frame = new ResourceSpansFrame(this.buf);
    let scopeIndex = 0;
    while (r.pos < r.end) {
      const fieldAt = r.pos;
      const t = r.tag();
      if (t === 0x12) {
        this.scopeIndex = scopeIndex++;
        const outer = r.enter();
        this.scopeSpans(frame);
        r.leave(outer);
        this.scopeIndex = -1;
        continue;
      }
      if (t === 0x0a) {
        const outer = r.enter();
        const start = r.pos;
        validateResource(r);
        frame.resourceRanges.push(start, r.pos);
        r.leave(outer);
      } else if (t === 0x1a) {
        const len = r.length(); // schema_url
        r.pos += len;
      } else {
        skipOther(r, t, RESOURCE_SPANS);
      }
      frame.otherBytes += addRange(frame.otherFields, fieldAt, r.pos);
    }
  }

  private scopeSpans(resource: ResourceSpansFrame): void {
    const r = this.r;
    const frame = new ScopeSpansFrame(resource, this.scopeCount++);
    let spanIndex = 0;
    while (r.pos < r.end) {
      const fieldAt = r.pos;
      const t = r.tag();
      if (t === 0x12) {
        this.spanIndex = spanIndex++;
        const outer = r.enter();
        this.span(frame);
        r.leave(outer);
        this.spanIndex = -1;
        continue;
      }
      if (t === 0x0a) {
        const outer = r.enter();
        validateScope(r);
        r.leave(outer);
      } else if (t === 0x1a) {
        const len = r.length(); // schema_url
        r.pos += len;
      } else {
        skipOther(r, t, SCOPE_SPANS);
      }
      frame.otherBytes += addRange(frame.otherFields, fieldAt, r.pos);
    }
  }

  /**
   * One Span, the reader narrowed to it. The loop keeps its position in a local and reads
   * one-byte tags and lengths inline (nearly every tag and length in a span); anything
   * longer, and every nested message, goes through the reader, which does the checking.
   */
  private span(scope: ScopeSpansFrame): void {
    const r = this.r;
    const buf = this.buf;
    const start = r.pos;
    const end = r.end;
    let traceAt = start;
    let traceLen = 0;
    let spanAt = start;
    let spanLen = 0;
    let parentAt = start;
    let parentLen = 0;
    let nameAt = 0;
    let nameEnd = 0;
    let stateAt = 0;
    let stateEnd = 0;
    let kind = 0;
    let startMs = 0;
    let endMs = 0;
    let statusCode = 0;
    let flags = 0;
    let pos = start;
    while (pos < end) {
      const tagAt = pos;
      let t = buf[pos];
      if (t < 0x80) {
        pos++;
      } else if (pos + 1 < end && buf[pos + 1] < 0x80 && buf[pos + 1] !== 0) {
        // Two-byte tags (fields 16 to 2047, `flags` among them); the wire type is checked
        // by the dispatch below, and an unknown field goes back through the reader.
        t = (t & 0x7f) | (buf[pos + 1] << 7);
        pos += 2;
      } else {
        r.pos = pos;
        t = r.tag();
        pos = r.pos;
      }
      const wire = t & 7;
      const lengthAt = pos;
      let len = 0;
      if (wire === 2) {
        const b = pos < end ? buf[pos] : 0x80;
        if (b < 0x80 && b < end - pos) {
          len = b;
          pos++;
        } else {
          r.pos = pos;
          len = r.length();
          pos = r.pos;
        }
      }
      // Dispatch on the field number (dense, a jump table), then check the wire type.
      switch (t >>> 3) {
        case 1:
          if (wire !== 2) break;
          traceAt = pos;
          traceLen = len;
          pos += len;
          continue;
        case 2:
          if (wire !== 2) break;
          spanAt = pos;
          spanLen = len;
          pos += len;
          continue;
        case 3:
          if (wire !== 2) break;
          stateAt = pos;
          stateEnd = pos += len;
          continue;
        case 4:
          if (wire !== 2) break;
          parentAt = pos;
          parentLen = len;
          pos += len;
          continue;
        case 5:
          if (wire !== 2) break;
          nameAt = pos;
          nameEnd = pos += len;
          continue;
        case 6: // an enum: int32
          if (wire !== 0) break;
          if (pos < end && buf[pos] < 0x80) {
            kind = buf[pos++];
          } else {
            r.pos = pos;
            kind = r.varint32() | 0;
            pos = r.pos;
          }
          continue;
        case 7:
        case 8: {
          if (wire !== 1) break;
          if (end - pos < 8) throw new OtlpDecodeError('truncated fixed64', pos);
          const lo = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
          const hi = (buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16) | (buf[pos + 7] << 24)) >>> 0;
          pos += 8;
          // Nanoseconds to milliseconds as hi * 2^32 / 1e6 + lo / 1e6: no BigInt.
          const ms = hi * 4294.967296 + lo / 1e6;
          if (t >>> 3 === 7) startMs = ms;
          else endMs = ms;
          continue;
        }
        case 9:
          if (wire !== 2) break;
          r.pos = lengthAt;
          validateAttributeRun(r, 0x4a);
          pos = r.pos;
          continue;
        case 10: // dropped_attributes_count
        case 12: // dropped_events_count
        case 14: // dropped_links_count
          if (wire !== 0) break;
          if (pos < end && buf[pos] < 0x80) {
            pos++;
          } else {
            r.pos = pos;
            r.skipVarint();
            pos = r.pos;
          }
          continue;
        case 11:
        case 13:
        case 15: {
          if (wire !== 2) break;
          const outer = r.end;
          r.pos = pos;
          r.end = pos + len;
          if (t === 0x5a) validateEvent(r);
          else if (t === 0x6a) validateLink(r);
          else statusCode = readStatusCode(r, statusCode);
          r.leave(outer);
          pos = r.pos;
          continue;
        }
        case 16:
          if (wire !== 5) break;
          if (end - pos < 4) throw new OtlpDecodeError('truncated fixed32', pos);
          flags = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
          pos += 4;
          continue;
      }
      // Unknown field, known field with the wrong wire type, or an invalid tag: the reader
      // reads the tag again with all its checks.
      r.pos = tagAt;
      skipOther(r, r.tag(), SPAN);
      pos = r.pos;
    }
    r.pos = pos;

    if (traceLen !== 16) throw new OtlpDecodeError(`Span.trace_id: expected 16 bytes, got ${traceLen}`, traceAt);
    if (spanLen !== 8) throw new OtlpDecodeError(`Span.span_id: expected 8 bytes, got ${spanLen}`, spanAt);
    if (parentLen !== 0 && parentLen !== 8) {
      throw new OtlpDecodeError(`Span.parent_span_id: expected 0 or 8 bytes, got ${parentLen}`, parentAt);
    }
    if (isZeroId(this.view, spanAt, 8)) throw new OtlpDecodeError('Span.span_id: all zero (an invalid span id)', spanAt);
    const group = this.groupOf(traceAt);
    // An all-zero parent id is as good as none: the Collector's pdata treats it as empty.
    const isRoot = parentLen === 0 || isZeroId(this.view, parentAt, 8);
    const view = new ProtobufSpanView(
      buf,
      start,
      end,
      scope,
      group.traceId,
      spanAt,
      isRoot ? -1 : parentAt,
      decodeUtf8Cached(buf, this.view, nameAt, nameEnd),
      kind,
      startMs,
      endMs,
      statusCode,
      decodeUtf8(buf, stateAt, stateEnd),
      flags,
    );
    this.spans.push(view);
    group.ranges.push(start, end);
    group.scopes.push(scope);
    if (isRoot) group.hasRoot = true;
  }
}

/**
 * Views of spans whose bytes a decode checked before (a buffered fragment's), all of trace
 * `traceId`: the fields a view holds are read, everything else is skipped by its length, and
 * nothing is checked again. Much lighter than decoding the spans anew, which is what
 * evaluation did when buffered fragments were copies.
 */
function readCheckedSpans(
  buf: Uint8Array,
  ranges: readonly number[],
  scopes: readonly ScopeSpansFrame[],
  traceId: string,
): ProtobufSpanView[] {
  const words = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const views: ProtobufSpanView[] = new Array(scopes.length);
  for (let i = 0; i < scopes.length; i++) {
    const start = ranges[2 * i];
    const end = ranges[2 * i + 1];
    let spanAt = start;
    let parentAt = -1;
    let nameAt = 0;
    let nameEnd = 0;
    let stateAt = 0;
    let stateEnd = 0;
    let kind = 0;
    let startMs = 0;
    let endMs = 0;
    let statusCode = 0;
    let flags = 0;
    let pos = start;
    while (pos < end) {
      let t = buf[pos++];
      if (t >= 0x80) {
        t &= 0x7f;
        let shift = 7;
        let b: number;
        do {
          b = buf[pos++];
          t += (b & 0x7f) * 2 ** shift;
          shift += 7;
        } while (b >= 0x80);
      }
      const wire = t & 7;
      if (wire === 0) {
        let v = 0;
        let shift = 0;
        let b: number;
        do {
          b = buf[pos++];
          // The low 32 bits, as int32 and enum fields are read (`varint32() | 0`).
          if (shift < 32) v |= (b & 0x7f) << shift;
          shift += 7;
        } while (b >= 0x80);
        if (t === 0x30) kind = v;
        continue;
      }
      if (wire === 1) {
        if (t === 0x39 || t === 0x41) {
          const lo = words.getUint32(pos, true);
          const hi = words.getUint32(pos + 4, true);
          const ms = hi * 4294.967296 + lo / 1e6;
          if (t === 0x39) startMs = ms;
          else endMs = ms;
        }
        pos += 8;
        continue;
      }
      if (wire === 5) {
        if (t === 0x85) flags = words.getUint32(pos, true);
        pos += 4;
        continue;
      }
      let len = buf[pos++];
      if (len >= 0x80) {
        len &= 0x7f;
        let shift = 7;
        let b: number;
        do {
          b = buf[pos++];
          len += (b & 0x7f) * 2 ** shift;
          shift += 7;
        } while (b >= 0x80);
      }
      switch (t) {
        case 0x12:
          spanAt = pos;
          break;
        case 0x1a:
          stateAt = pos;
          stateEnd = pos + len;
          break;
        case 0x22:
          parentAt = len === 8 && !isZeroId(words, pos, 8) ? pos : -1;
          break;
        case 0x2a:
          nameAt = pos;
          nameEnd = pos + len;
          break;
        case 0x7a:
          statusCode = checkedStatusCode(buf, pos, pos + len, statusCode);
          break;
      }
      pos += len;
    }
    views[i] = new ProtobufSpanView(
      buf,
      start,
      end,
      scopes[i],
      traceId,
      spanAt,
      parentAt,
      decodeUtf8Cached(buf, words, nameAt, nameEnd),
      kind,
      startMs,
      endMs,
      statusCode,
      decodeUtf8(buf, stateAt, stateEnd),
      flags,
    );
  }
  return views;
}

/** Status.code of a checked Status message, or `code` when it does not set one. */
function checkedStatusCode(buf: Uint8Array, pos: number, end: number, code: number): number {
  const r = new ProtobufReader(buf);
  r.pos = pos;
  r.end = end;
  return readStatusCode(r, code);
}

/** Status.code, or `code` unchanged when this Status message does not set it (merge semantics). */
function readStatusCode(r: ProtobufReader, code: number): number {
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x18) {
      code = r.varint32() | 0;
    } else if (t === 0x12) {
      const len = r.length();
      r.pos += len;
    } else {
      skipOther(r, t, STATUS);
    }
  }
  return code;
}

/** The 16 id bytes as four little-endian words folded into a small integer (a Smi map key). */
function hashId16(v: DataView, at: number): number {
  let h = Math.imul(v.getInt32(at, true), 0x9e3779b1);
  h = Math.imul(h ^ v.getInt32(at + 4, true), 0x9e3779b1);
  h = Math.imul(h ^ v.getInt32(at + 8, true), 0x9e3779b1);
  h = Math.imul(h ^ v.getInt32(at + 12, true), 0x9e3779b1);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

function sameId16(v: DataView, x: number, y: number): boolean {
  return (
    v.getInt32(x, true) === v.getInt32(y, true) &&
    v.getInt32(x + 4, true) === v.getInt32(y + 4, true) &&
    v.getInt32(x + 8, true) === v.getInt32(y + 8, true) &&
    v.getInt32(x + 12, true) === v.getInt32(y + 12, true)
  );
}

/** An all-zero trace or span id (8 or 16 bytes) is invalid in OTLP. */
function isZeroId(v: DataView, at: number, len: 8 | 16): boolean {
  if (v.getInt32(at, true) !== 0 || v.getInt32(at + 4, true) !== 0) return false;
  return len === 8 || (v.getInt32(at + 8, true) === 0 && v.getInt32(at + 12, true) === 0);
}

/** Appends [start, end) to a list of ranges, merging with the last when adjacent. Returns its size. */
function addRange(ranges: number[], start: number, end: number): number {
  const n = ranges.length;
  if (n > 0 && ranges[n - 1] === start) ranges[n - 1] = end;
  else ranges.push(start, end);
  return end - start;
}

// Message sizes of the nested runs, computed in the sizing pass and consumed in the same
// order by the writing pass; module-level so writing a fragment allocates them once at most.
const scopeRunSizes: number[] = [];
const resourceRunSizes: number[] = [];

/**
 * One fragment per trace group, referring to the request: sizes are computed (and their sum
 * checked against `maxBytes`, so a request that would expand too far is refused at once), the
 * bytes are written only when asked for.
 */
function splitFragments(groups: readonly TraceGroup[], buf: Uint8Array, maxBytes: number): TraceFragment[] {
  const fragments: TraceFragment[] = new Array(groups.length);
  let sum = 0;
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g];
    scopeRunSizes.length = 0;
    resourceRunSizes.length = 0;
    const size = sizeFragment(group.ranges, group.scopes);
    sum += size;
    fragments[g] = new SplitFragment(group, size, buf);
  }
  scopeRunSizes.length = 0;
  resourceRunSizes.length = 0;
  if (sum > maxBytes) {
    throw new OtlpDecodeError(
      `splitting the request by trace would take ${sum} bytes, more than the limit of ${maxBytes} for a ` +
        `${buf.length}-byte request (a large resource or scope repeated for many traces)`,
    );
  }
  return fragments;
}

/**
 * A trace's spans of one request: where they lie, their bytes written and their views read
 * again on first use. It holds no span views meanwhile: a buffered fragment lives for
 * `decision_wait`, long enough for the garbage collector to copy and promote everything it
 * holds, and a few numbers per span cost far less there than a view each.
 */
class SplitFragment implements TraceFragment {
  readonly traceId: string;
  readonly spanCount: number;
  readonly hasRoot: boolean;
  readonly byteLength: number;
  private readonly ranges: readonly number[];
  private readonly scopes: readonly ScopeSpansFrame[];
  private readonly source: Uint8Array;
  private written: Uint8Array | undefined;
  private laidOut: FragmentLayout | undefined;
  private views: readonly SpanView[] | undefined;

  constructor(group: TraceGroup, byteLength: number, source: Uint8Array) {
    this.traceId = group.traceId;
    this.spanCount = group.scopes.length;
    this.hasRoot = group.hasRoot;
    this.byteLength = byteLength;
    this.ranges = group.ranges;
    this.scopes = group.scopes;
    this.source = source;
    this.written = undefined;
    this.laidOut = undefined;
    this.views = undefined;
  }

  get bytes(): Uint8Array {
    if (this.written === undefined) this.written = writeFragment(this.ranges, this.scopes, this.source, this.byteLength);
    return this.written;
  }

  get layout(): FragmentLayout {
    if (this.laidOut === undefined) this.laidOut = layoutOf(this.ranges, this.scopes, this.source);
    return this.laidOut;
  }

  /** The spans, read again from the request (checked when it was decoded, so not again). */
  get spans(): readonly SpanView[] {
    if (this.views === undefined) this.views = readCheckedSpans(this.source, this.ranges, this.scopes, this.traceId);
    return this.views;
  }
}

/*
 * Fragments are carved out of shared slabs, as Node's Buffer pool does for small buffers:
 * an allocation of their own each cost fresh pages and full garbage collections for the
 * external memory, slower than the copying it saved. A slab is freed when the last fragment
 * in it is; fragments written together are usually of traces decided together, which leave
 * together.
 */
const FRAGMENT_SLAB_BYTES = 1024 * 1024;
let fragmentSlab = new Uint8Array(0);
let fragmentSlabUsed = 0;

/** A slab with `size` bytes free at `fragmentSlabUsed - size`, after reserving them. */
function fragmentSpace(size: number): Uint8Array {
  if (fragmentSlab.length - fragmentSlabUsed < size) {
    // A plain Uint8Array, not a Buffer: Buffer's own methods (slice shares memory, equality
    // in tests) would surprise callers that were promised a Uint8Array.
    const bytes = Buffer.allocUnsafeSlow(Math.max(size, FRAGMENT_SLAB_BYTES));
    fragmentSlab = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    fragmentSlabUsed = 0;
  }
  fragmentSlabUsed += size;
  return fragmentSlab;
}

/**
 * Re-wraps one trace's spans into a run of ExportTraceServiceRequest.resource_spans fields.
 * A span's bytes and its ResourceSpans/ScopeSpans' other fields are copied verbatim; only the
 * tags and lengths around them are written anew.
 */
function writeFragment(ranges: readonly number[], scopes: readonly ScopeSpansFrame[], buf: Uint8Array, size: number): Uint8Array {
  scopeRunSizes.length = 0;
  resourceRunSizes.length = 0;
  const total = sizeFragment(ranges, scopes);
  if (total !== size) throw new Error(`fragment size changed: ${total} bytes, ${size} when split`);
  const out = fragmentSpace(total);
  const fragmentAt = fragmentSlabUsed - total;
  let p = fragmentAt;
  let scopeRun = 0;
  let resourceRun = 0;
  let scope: ScopeSpansFrame | undefined;
  let resource: ResourceSpansFrame | undefined;
  const n = scopes.length;
  for (let i = 0; i < n; ) {
    if (scopes[i] !== scope) {
      scope = scopes[i];
      if (scope.resource !== resource) {
        resource = scope.resource;
        out[p++] = 0x0a;
        p = writeVarint(out, p, resourceRunSizes[resourceRun++]);
        p = copyOtherFields(out, p, buf, resource);
      }
      out[p++] = 0x12;
      p = writeVarint(out, p, scopeRunSizes[scopeRun++]);
      p = copyOtherFields(out, p, buf, scope);
    }
    const start = ranges[2 * i];
    out[p++] = 0x12;
    p = writeVarint(out, p, ranges[2 * i + 1] - start);
    // Spans of this trace that follow in the same scope with a one-byte tag and a minimal
    // length are, tag and length included, exactly what would be written: copy them with
    // this one in a single block.
    let copyEnd = ranges[2 * i + 1];
    for (i++; i < n; i++) {
      const nextStart = ranges[2 * i];
      const nextEnd = ranges[2 * i + 1];
      if (scopes[i] !== scope || buf[copyEnd] !== 0x12) break;
      if (nextStart !== copyEnd + 1 + varintSize(nextEnd - nextStart)) break;
      copyEnd = nextEnd;
    }
    copyBytes(out, p, buf, start, copyEnd);
    p += copyEnd - start;
  }
  scopeRunSizes.length = 0;
  resourceRunSizes.length = 0;
  if (p - fragmentAt !== total) throw new Error(`fragment size mismatch: wrote ${p - fragmentAt} of ${total} bytes`);
  return out.subarray(fragmentAt, p);
}

/** The parts of one trace's fragment, where they lie in the request. */
function layoutOf(spanRanges: readonly number[], spanScopes: readonly ScopeSpansFrame[], buf: Uint8Array): FragmentLayout {
  const resources: FragmentResource[] = [];
  let scope: ScopeSpansFrame | undefined;
  let resource: ResourceSpansFrame | undefined;
  let scopes: ScopeSpansFrame[] = [];
  let counts: number[] = [];
  let ranges: number[] = [];
  const close = (): void => {
    if (resource === undefined) return;
    resources.push({ envelope: envelopeOf(resource, scopes, buf), scopeSpanCounts: counts, spanRanges: ranges });
  };
  for (let i = 0; i < spanScopes.length; i++) {
    if (spanScopes[i] !== scope) {
      scope = spanScopes[i];
      if (scope.resource !== resource) {
        close();
        resource = scope.resource;
        scopes = [];
        counts = [];
        ranges = [];
      }
      scopes.push(scope);
      counts.push(0);
    }
    counts[counts.length - 1]++;
    ranges.push(spanRanges[2 * i], spanRanges[2 * i + 1]);
  }
  close();
  return { source: buf, resources };
}

/**
 * The envelope of a resource run with these scopes, made once per request for each such
 * combination (nearly always one scope) and shared, so that its digest can be cached by identity.
 */
function envelopeOf(resource: ResourceSpansFrame, scopes: readonly ScopeSpansFrame[], buf: Uint8Array): Uint8Array {
  if (scopes.length === 1 && scopes[0].envelope !== undefined) return scopes[0].envelope;
  const key = scopes.length === 1 ? '' : scopes.map((s) => s.index).join(',');
  if (scopes.length > 1) {
    const known = resource.envelopes?.get(key);
    if (known !== undefined) return known;
  }
  const frames: (ResourceSpansFrame | ScopeSpansFrame)[] = [resource, ...scopes];
  let size = 0;
  for (const f of frames) size += varintSize(f.otherBytes) + f.otherBytes;
  const out = new Uint8Array(size);
  let p = 0;
  for (const f of frames) {
    p = writeVarint(out, p, f.otherBytes);
    p = copyRanges(out, p, buf, f.otherFields);
  }
  if (scopes.length === 1) scopes[0].envelope = out;
  else (resource.envelopes ??= new Map()).set(key, out);
  return out;
}

/** The byte size of one trace's fragment; pushes its run sizes for the writing pass. */
function sizeFragment(ranges: readonly number[], scopes: readonly ScopeSpansFrame[]): number {
  let total = 0;
  let scope: ScopeSpansFrame | undefined;
  let resource: ResourceSpansFrame | undefined;
  let scopeSize = 0;
  let resourceSize = 0;
  for (let i = 0; i < scopes.length; i++) {
    const next = scopes[i];
    if (next !== scope) {
      if (scope !== undefined) {
        scopeRunSizes.push(scopeSize);
        resourceSize += 1 + varintSize(scopeSize) + scopeSize;
      }
      if (next.resource !== resource) {
        if (resource !== undefined) {
          resourceRunSizes.push(resourceSize);
          total += 1 + varintSize(resourceSize) + resourceSize;
        }
        resource = next.resource;
        resourceSize = resource.otherBytes;
      }
      scope = next;
      scopeSize = scope.otherBytes;
    }
    const len = ranges[2 * i + 1] - ranges[2 * i];
    scopeSize += 1 + varintSize(len) + len;
  }
  scopeRunSizes.push(scopeSize);
  resourceSize += 1 + varintSize(scopeSize) + scopeSize;
  resourceRunSizes.push(resourceSize);
  total += 1 + varintSize(resourceSize) + resourceSize;
  return total;
}

/**
 * Writes a frame's other fields. They repeat in every fragment with spans of that frame, so
 * they are joined once and then copied in one native call each time (copying range by range,
 * short ones byte by byte, was most of the split's copying time).
 */
function copyOtherFields(out: Uint8Array, p: number, buf: Uint8Array, frame: ResourceSpansFrame | ScopeSpansFrame): number {
  if (frame.otherBytes === 0) return p;
  let joined = frame.otherCopy;
  if (joined === undefined) {
    joined = new Uint8Array(frame.otherBytes);
    copyRanges(joined, 0, buf, frame.otherFields);
    frame.otherCopy = joined;
  }
  out.set(joined, p);
  return p + joined.length;
}

function copyRanges(out: Uint8Array, p: number, buf: Uint8Array, ranges: readonly number[]): number {
  for (let i = 0; i < ranges.length; i += 2) {
    copyBytes(out, p, buf, ranges[i], ranges[i + 1]);
    p += ranges[i + 1] - ranges[i];
  }
  return p;
}

function copyBytes(out: Uint8Array, p: number, buf: Uint8Array, start: number, end: number): void {
  // Short copies by hand: `set` with a subarray allocates a view each time.
  if (end - start < 64) {
    for (let i = start; i < end; i++) out[p++] = buf[i];
  } else {
    out.set(buf.subarray(start, end), p);
  }
}
