import { createHash } from 'node:crypto';
import { OtlpDecodeError } from '../../errors.js';
import { ProtobufReader } from '../../otlp/protobuf-reader.js';
import type { FragmentLayout } from '../../otlp/types.js';
import { varintSize, writeVarint } from '../../otlp/varint-writer.js';

/**
 * The compact stored form of a fragment.
 *
 * A fragment (see TraceFragment) repeats its spans' Resource and InstrumentationScopes for
 * every request, and a Resource with the usual 14 attributes is about 500 bytes: stored as is,
 * that alone outweighs the spans of a small trace. So a fragment is split into envelopes and
 * spans. A ResourceSpans' envelope is its fields other than scope_spans plus, per ScopeSpans,
 * the fields other than spans; it is stored once under its digest and the fragment keeps a
 * reference. Each span also drops its leading trace_id field when it holds the trace's own
 * id (18 of a typical 300 bytes), since every stored span belongs to that trace. Rebuilding
 * writes the same tags and shortest lengths back, so the result is byte-identical.
 *
 * Record layout (numbers are protobuf varints):
 *   0x00 bytes...                          raw: the fragment as it came
 *   0x01 { envelope scopeCount             compact: per ResourceSpans
 *          { spanCount                     per ScopeSpans
 *            { length*2+elided bytes }     per span: its bytes, without the trace_id field
 *          }* }*                           when `elided` is 1
 *   envelope = 0x00 length bytes...        inline (short ones)
 *            | 0x01 digest[16]             a reference to an envelope key
 * Envelope bytes: resourceLength resourceFields { scopeLength scopeFields }* (scopeCount times).
 *
 * A fragment that is not a run of well-formed resource_spans with shortest lengths, spans
 * last in each scope and other fields first (every fragment the decoder writes is one), is
 * stored raw: the buffer keeps whatever bytes it is given.
 */

/** An envelope stored once, under `<prefix>:e:<digest>`. */
export interface Envelope {
  /** 32 hex characters: the first 16 bytes of the SHA-256 of `bytes`. */
  readonly digest: string;
  readonly bytes: Uint8Array;
}

export interface CompactFragment {
  /** What goes into the trace's fragments list. */
  readonly record: Buffer;
  /** Envelopes the record refers to; they must be stored before the record is. */
  readonly envelopes: readonly Envelope[];
}

const RAW = 0x00;
const COMPACT = 0x01;
const INLINE = 0x00;
const REFERENCE = 0x01;
const DIGEST_BYTES = 16;
/** Up to this size an envelope costs less inline than a 17-byte reference plus a key of its own. */
const INLINE_MAX_BYTES = 24;
/** A span's trace_id field: tag 1 (length-delimited), length 16, the id. */
const TRACE_ID_FIELD_BYTES = 18;

interface Range {
  readonly start: number;
  readonly end: number;
}

interface ScopePart {
  readonly envelope: Range;
  /** Each span's payload (without its tag and length). */
  readonly spans: Range[];
}

interface ResourcePart {
  readonly envelope: Range;
  readonly scopes: ScopePart[];
}

/** The record of a fragment stored as it came. */
export function rawRecord(bytes: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(bytes.length + 1);
  record[0] = RAW;
  record.set(bytes, 1);
  return record;
}

/** Splits a fragment of trace `traceId` (32 hex characters) into its record and envelopes. */
export function compactFragment(bytes: Uint8Array, traceId: string): CompactFragment {
  const resources = parseFragment(bytes);
  if (resources === undefined) return { record: rawRecord(bytes), envelopes: [] };
  const id = traceIdBytes(traceId);

  const envelopes = new Map<string, Envelope>();
  const refs: (Uint8Array | string)[] = [];
  let size = 1;
  for (const resource of resources) {
    const envelope = envelopeBytes(bytes, resource);
    if (envelope.length <= INLINE_MAX_BYTES) {
      refs.push(envelope);
      size += 1 + varintSize(envelope.length) + envelope.length;
    } else {
      const digest = digestOf(envelope);
      envelopes.set(digest, { digest, bytes: envelope });
      refs.push(digest);
      size += 1 + DIGEST_BYTES;
    }
    size += varintSize(resource.scopes.length);
    for (const scope of resource.scopes) {
      size += varintSize(scope.spans.length);
      for (const span of scope.spans) {
        const elided = elides(bytes, span.start, span.end, id);
        const stored = span.end - span.start - (elided ? TRACE_ID_FIELD_BYTES : 0);
        size += varintSize(stored * 2 + (elided ? 1 : 0)) + stored;
      }
    }
  }

  const record = Buffer.allocUnsafe(size);
  let p = 0;
  record[p++] = COMPACT;
  resources.forEach((resource, r) => {
    const ref = refs[r];
    if (typeof ref === 'string') {
      record[p++] = REFERENCE;
      p += record.write(ref, p, 'hex');
    } else {
      record[p++] = INLINE;
      p = writeVarint(record, p, ref.length);
      record.set(ref, p);
      p += ref.length;
    }
    p = writeVarint(record, p, resource.scopes.length);
    for (const scope of resource.scopes) {
      p = writeVarint(record, p, scope.spans.length);
      for (const span of scope.spans) {
        const elided = elides(bytes, span.start, span.end, id);
        const start = elided ? span.start + TRACE_ID_FIELD_BYTES : span.start;
        p = writeVarint(record, p, (span.end - start) * 2 + (elided ? 1 : 0));
        record.set(bytes.subarray(start, span.end), p);
        p += span.end - start;
      }
    }
  });
  if (p !== size) throw new Error(`compact fragment size mismatch: wrote ${p} of ${size} bytes`);
  return { record, envelopes: [...envelopes.values()] };
}

/**
 * `compactFragment` for a fragment split from a request, from its layout: the same record,
 * without writing the fragment's bytes first and parsing them again. An envelope's digest is
 * computed once per envelope array; fragments of one request with the same Resource and
 * scopes share that array.
 */
export function compactLayout(layout: FragmentLayout, traceId: string): CompactFragment {
  const id = traceIdBytes(traceId);
  const source = layout.source;
  const envelopes: Envelope[] = [];
  let size = 1;
  for (const resource of layout.resources) {
    const envelope = resource.envelope;
    if (envelope.length <= INLINE_MAX_BYTES) {
      size += 1 + varintSize(envelope.length) + envelope.length;
    } else {
      const digest = layoutDigestOf(envelope);
      if (!envelopes.some((e) => e.digest === digest)) envelopes.push({ digest, bytes: envelope });
      size += 1 + DIGEST_BYTES;
    }
    size += varintSize(resource.scopeSpanCounts.length);
    for (const count of resource.scopeSpanCounts) size += varintSize(count);
    const ranges = resource.spanRanges;
    for (let i = 0; i < ranges.length; i += 2) {
      const elided = elides(source, ranges[i], ranges[i + 1], id);
      const stored = ranges[i + 1] - ranges[i] - (elided ? TRACE_ID_FIELD_BYTES : 0);
      size += varintSize(stored * 2 + (elided ? 1 : 0)) + stored;
    }
  }

  const record = Buffer.allocUnsafe(size);
  let p = 0;
  record[p++] = COMPACT;
  for (const resource of layout.resources) {
    const envelope = resource.envelope;
    if (envelope.length <= INLINE_MAX_BYTES) {
      record[p++] = INLINE;
      p = writeVarint(record, p, envelope.length);
      record.set(envelope, p);
      p += envelope.length;
    } else {
      record[p++] = REFERENCE;
      p += record.write(layoutDigestOf(envelope), p, 'hex');
    }
    p = writeVarint(record, p, resource.scopeSpanCounts.length);
    const ranges = resource.spanRanges;
    let at = 0;
    for (const count of resource.scopeSpanCounts) {
      p = writeVarint(record, p, count);
      for (let k = 0; k < count; k++, at += 2) {
        const end = ranges[at + 1];
        const elided = elides(source, ranges[at], end, id);
        const start = elided ? ranges[at] + TRACE_ID_FIELD_BYTES : ranges[at];
        p = writeVarint(record, p, (end - start) * 2 + (elided ? 1 : 0));
        record.set(source.subarray(start, end), p);
        p += end - start;
      }
    }
  }
  if (p !== size) throw new Error(`compact fragment size mismatch: wrote ${p} of ${size} bytes`);
  return { record, envelopes };
}

/** Digests of layout envelopes, by the identity of the shared array. */
const layoutDigests = new WeakMap<Uint8Array, string>();

function layoutDigestOf(envelope: Uint8Array): string {
  let digest = layoutDigests.get(envelope);
  if (digest === undefined) {
    digest = digestOf(envelope);
    layoutDigests.set(envelope, digest);
  }
  return digest;
}

/** The digests a stored record refers to (none for a raw record). */
export function referencedDigests(record: Uint8Array): string[] {
  const digests: string[] = [];
  if (record[0] !== COMPACT) return digests;
  const reader = new RecordReader(record);
  while (!reader.atEnd()) {
    const ref = reader.envelopeRef();
    if (typeof ref === 'string') digests.push(ref);
    const scopes = reader.varint();
    for (let s = 0; s < scopes; s++) {
      const spans = reader.varint();
      for (let i = 0; i < spans; i++) reader.bytes(reader.varint() >>> 1);
    }
  }
  return digests;
}

export interface RebuiltFragment {
  readonly bytes: Uint8Array;
  /** Envelopes `lookup` did not have; their Resource and scopes were rebuilt empty. */
  readonly missing: number;
}

/**
 * The fragment a stored record of trace `traceId` stands for, byte-identical to the one
 * stored. `lookup` gives an envelope's bytes by digest. An envelope that is gone (its key
 * expired while the trace waited longer than the envelope TTL) is rebuilt empty: the spans
 * are still delivered, only their Resource and scopes are lost, and `missing` says so.
 */
export function rebuildFragment(
  record: Uint8Array,
  traceId: string,
  lookup: (digest: string) => Uint8Array | undefined,
): RebuiltFragment {
  if (record.length === 0) throw new Error('empty fragment record');
  // A plain Uint8Array view, as the memory buffer hands out: Buffer's own methods (slice shares
  // memory) would surprise callers that were promised a Uint8Array.
  if (record[0] === RAW) return { bytes: new Uint8Array(record.buffer, record.byteOffset + 1, record.length - 1), missing: 0 };
  if (record[0] !== COMPACT) throw new Error(`unknown fragment record format ${record[0]}`);
  const id = traceIdBytes(traceId);

  interface Span {
    readonly stored: Uint8Array;
    readonly elided: boolean;
    readonly length: number;
  }
  interface Scope {
    readonly fields: Uint8Array;
    readonly spans: Span[];
    size: number;
  }
  const resources: { fields: Uint8Array; scopes: Scope[]; size: number }[] = [];
  const reader = new RecordReader(record);
  let missing = 0;
  let total = 0;
  while (!reader.atEnd()) {
    const ref = reader.envelopeRef();
    const scopeCount = reader.varint();
    let envelope = typeof ref === 'string' ? lookup(ref) : ref;
    if (envelope === undefined) {
      missing++;
      envelope = emptyEnvelope(scopeCount);
    }
    const parts = splitEnvelope(envelope);
    const fields = parts[0];
    if (parts.length - 1 !== scopeCount) {
      throw new Error(`fragment record has ${scopeCount} scopes, its envelope ${parts.length - 1}`);
    }
    let size = fields.length;
    const scopes: Scope[] = [];
    for (let s = 0; s < scopeCount; s++) {
      const spanCount = reader.varint();
      const scope: Scope = { fields: parts[s + 1], spans: [], size: parts[s + 1].length };
      for (let i = 0; i < spanCount; i++) {
        const header = reader.varint();
        const stored = reader.bytes(Math.floor(header / 2));
        const elided = header % 2 === 1;
        if (elided && id === undefined) throw new Error(`fragment record elides a trace id, but ${traceId} is not one`);
        const length = stored.length + (elided ? TRACE_ID_FIELD_BYTES : 0);
        scope.spans.push({ stored, elided, length });
        scope.size += 1 + varintSize(length) + length;
      }
      scopes.push(scope);
      size += 1 + varintSize(scope.size) + scope.size;
    }
    resources.push({ fields, scopes, size });
    total += 1 + varintSize(size) + size;
  }

  const out = new Uint8Array(total);
  let p = 0;
  for (const resource of resources) {
    out[p++] = 0x0a;
    p = writeVarint(out, p, resource.size);
    out.set(resource.fields, p);
    p += resource.fields.length;
    for (const scope of resource.scopes) {
      out[p++] = 0x12;
      p = writeVarint(out, p, scope.size);
      out.set(scope.fields, p);
      p += scope.fields.length;
      for (const span of scope.spans) {
        out[p++] = 0x12;
        p = writeVarint(out, p, span.length);
        if (span.elided) {
          out[p++] = 0x0a;
          out[p++] = 0x10;
          out.set(id as Uint8Array, p);
          p += 16;
        }
        out.set(span.stored, p);
        p += span.stored.length;
      }
    }
  }
  return { bytes: out, missing };
}

/*
 * The digest names an envelope for every instance, so it must not collide: a crafted
 * Resource sharing another's digest would be delivered with the other's spans. Hence
 * SHA-256. But a service sends the same few Resources over and over, and hashing each again
 * was a sixth of compacting; so recent digests are remembered in a small direct-mapped table,
 * its slot chosen by the length and a few words of the bytes, and reused only for
 * byte-identical envelopes (compared natively); a different envelope in the slot just misses.
 */
const RECENT_DIGESTS = 256;
const recentDigests: ({ readonly bytes: Uint8Array; readonly digest: string } | undefined)[] = new Array(RECENT_DIGESTS);

function digestOf(bytes: Uint8Array): string {
  const n = bytes.length;
  let h = Math.imul(n, 0x9e3779b1);
  for (let k = 1; k <= 8; k++) {
    const i = Math.floor((n * k) / 9);
    h = Math.imul(h ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16)), 0x01000193);
  }
  const slot = (h ^ (h >>> 16)) & (RECENT_DIGESTS - 1);
  const recent = recentDigests[slot];
  if (recent !== undefined && recent.bytes.length === n && Buffer.compare(recent.bytes, bytes) === 0) return recent.digest;
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, DIGEST_BYTES * 2);
  recentDigests[slot] = { bytes, digest };
  return digest;
}

function traceIdBytes(traceId: string): Uint8Array | undefined {
  return /^[0-9a-f]{32}$/.test(traceId) ? Buffer.from(traceId, 'hex') : undefined;
}

/** True when the span's payload starts with the trace_id field holding `id`. */
function elides(bytes: Uint8Array, start: number, end: number, id: Uint8Array | undefined): boolean {
  if (id === undefined || end - start < TRACE_ID_FIELD_BYTES) return false;
  if (bytes[start] !== 0x0a || bytes[start + 1] !== 0x10) return false;
  for (let i = 0; i < 16; i++) if (bytes[start + 2 + i] !== id[i]) return false;
  return true;
}

function envelopeBytes(bytes: Uint8Array, resource: ResourcePart): Uint8Array {
  const parts = [resource.envelope, ...resource.scopes.map((s) => s.envelope)];
  let size = 0;
  for (const r of parts) size += varintSize(r.end - r.start) + r.end - r.start;
  const out = new Uint8Array(size);
  let p = 0;
  for (const r of parts) {
    p = writeVarint(out, p, r.end - r.start);
    out.set(bytes.subarray(r.start, r.end), p);
    p += r.end - r.start;
  }
  return out;
}

/**
 * Envelopes split already, by the identity of their bytes: a referenced envelope comes from
 * the envelope cache as the same array for every fragment that uses it.
 */
const splitEnvelopes = new WeakMap<Uint8Array, Uint8Array[]>();

/** The resource's fields, then each scope's fields, from envelope bytes. */
function splitEnvelope(envelope: Uint8Array): Uint8Array[] {
  const known = splitEnvelopes.get(envelope);
  if (known !== undefined) return known;
  const reader = new RecordReader(envelope, 0);
  const parts: Uint8Array[] = [];
  while (!reader.atEnd()) parts.push(reader.bytes(reader.varint()));
  if (parts.length === 0) throw new Error('empty envelope');
  splitEnvelopes.set(envelope, parts);
  return parts;
}

function emptyEnvelope(scopes: number): Uint8Array {
  return new Uint8Array(scopes + 1);
}

/**
 * The ResourceSpans and ScopeSpans of a fragment, or undefined when rebuilding from envelope
 * and spans would not give the same bytes back.
 */
function parseFragment(bytes: Uint8Array): ResourcePart[] | undefined {
  const resources: ResourcePart[] = [];
  try {
    const r = new ProtobufReader(bytes);
    while (r.pos < r.end) {
      const message = nestedMessage(r, 0x0a);
      if (message === undefined) return undefined;
      const resource = parseResourceSpans(bytes, message);
      if (resource === undefined) return undefined;
      resources.push(resource);
      r.pos = message.end;
    }
  } catch (err) {
    if (err instanceof OtlpDecodeError) return undefined;
    throw err;
  }
  return resources;
}

function parseResourceSpans(bytes: Uint8Array, message: Range): ResourcePart | undefined {
  const r = new ProtobufReader(bytes, message.start, message.end);
  skipEnvelopeFields(r);
  const envelope = { start: message.start, end: r.pos };
  const scopes: ScopePart[] = [];
  while (r.pos < r.end) {
    // Anything but scope_spans after the first scope_spans would move on rebuild.
    const scope = nestedMessage(r, 0x12);
    if (scope === undefined) return undefined;
    const s = new ProtobufReader(bytes, scope.start, scope.end);
    skipEnvelopeFields(s);
    const scopeEnvelope = { start: scope.start, end: s.pos };
    const spans: Range[] = [];
    while (s.pos < s.end) {
      const span = nestedMessage(s, 0x12);
      if (span === undefined) return undefined;
      spans.push(span);
      s.pos = span.end;
    }
    scopes.push({ envelope: scopeEnvelope, spans });
    r.pos = scope.end;
  }
  return { envelope, scopes };
}

/** Moves past the fields before the first field 2 (scope_spans in ResourceSpans, spans in ScopeSpans). */
function skipEnvelopeFields(r: ProtobufReader): void {
  while (r.pos < r.end && r.buf[r.pos] !== 0x12) {
    const tag = r.tag();
    r.skipField(tag & 7);
  }
}

/**
 * The payload of the length-delimited field at `r.pos` with the one-byte tag `tag`, or
 * undefined when the tag differs or the length is not written in its shortest form.
 */
function nestedMessage(r: ProtobufReader, tag: number): Range | undefined {
  if (r.buf[r.pos] !== tag) return undefined;
  r.pos++;
  const lengthAt = r.pos;
  const length = r.length();
  if (r.pos - lengthAt !== varintSize(length)) return undefined;
  return { start: r.pos, end: r.pos + length };
}

class RecordReader {
  constructor(
    private readonly record: Uint8Array,
    private pos = 1,
  ) {}

  atEnd(): boolean {
    return this.pos >= this.record.length;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.record.length) throw new Error('truncated fragment record');
      const b = this.record[this.pos++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
  }

  bytes(length: number): Uint8Array {
    if (this.pos + length > this.record.length) throw new Error('truncated fragment record');
    const out = this.record.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  /** An inline envelope's bytes, or a referenced envelope's digest. */
  envelopeRef(): Uint8Array | string {
    const kind = this.record[this.pos++];
    if (kind === INLINE) return this.bytes(this.varint());
    if (kind !== REFERENCE) throw new Error(`unknown envelope kind ${kind} in fragment record`);
    const raw = this.bytes(DIGEST_BYTES);
    return Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('hex');
  }
}

