import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OtlpDecodeError } from '../../src/errors.js';
import { concatRequests } from '../../src/otlp/concat.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import { decodeJsonRequest, jsonRequestToProtobuf, protobufRequestToJson } from '../../src/otlp/otlp-json.js';
import type { AttrValue, DecodeResult, SpanView } from '../../src/otlp/types.js';
import { generatedRequest, type ExpectedSpan, type GeneratedRequest } from './request-arbitrary.js';
import { handmadeSpans, toJson, tracerSpans } from './sdk-span-fixtures.js';

/*
 * OTLP/JSON decoding under fuzzing. Two halves:
 * - property: requests drawn from the protobuf model (request-arbitrary.ts) are written as
 *   OTLP/JSON in every form the spec and proto3 JSON allow (hex case, int64 as string or
 *   number, enum names, snake_case keys, both base64 alphabets, explicit defaults, unknown
 *   keys) and must decode to exactly the model's spans;
 * - mutation: valid documents are damaged (wrong types, huge numbers, bad ids, deep
 *   nesting, odd unicode, duplicated keys, truncation, byte flips) and must either decode
 *   to something usable or fail with OtlpDecodeError; nothing else may escape.
 */

// ---------------------------------------------------------------------------------------
// Writing the model as OTLP/JSON.

interface JsonStyle {
  readonly idCase: 'lower' | 'upper' | 'mixed';
  /** 64-bit integers as JSON numbers where that is exact, else decimal strings. */
  readonly int64AsNumber: boolean;
  readonly enumNames: boolean;
  readonly snakeCase: boolean;
  readonly base64: 'standard' | 'url' | 'unpadded';
  /** Fields at their default value written out (0, "", null) instead of left out. */
  readonly explicitDefaults: boolean;
  readonly unknownKeys: boolean;
}

const jsonStyle: fc.Arbitrary<JsonStyle> = fc.record({
  idCase: fc.constantFrom('lower', 'upper', 'mixed'),
  int64AsNumber: fc.boolean(),
  enumNames: fc.boolean(),
  snakeCase: fc.boolean(),
  base64: fc.constantFrom('standard', 'url', 'unpadded'),
  explicitDefaults: fc.boolean(),
  unknownKeys: fc.boolean(),
});

const SPAN_KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_CODES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

class JsonWriter {
  constructor(private readonly style: JsonStyle) {}

  key(name: string): string {
    return this.style.snakeCase ? name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : name;
  }

  object(entries: [string, unknown][]): Record<string, unknown> {
    // Built with defineProperty semantics so that no key is special.
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) if (v !== undefined) Object.defineProperty(out, this.key(k), { value: v, enumerable: true });
    if (this.style.unknownKeys) out.someFutureField = { nested: [1, 'two', null] };
    return out;
  }

  id(hex: string): string {
    if (this.style.idCase === 'upper') return hex.toUpperCase();
    if (this.style.idCase === 'mixed') return [...hex].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('');
    return hex;
  }

  uint64(n: bigint): unknown {
    if (n === 0n && !this.style.explicitDefaults) return undefined;
    return this.style.int64AsNumber && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
  }

  enumValue(n: number, names: readonly string[]): unknown {
    if (n === 0 && !this.style.explicitDefaults) return undefined;
    return this.style.enumNames && n >= 0 && n < names.length ? names[n] : n;
  }

  base64(bytes: Uint8Array): string {
    const text = Buffer.from(bytes).toString(this.style.base64 === 'url' ? 'base64url' : 'base64');
    return this.style.base64 === 'unpadded' ? text.replace(/=+$/, '') : text;
  }

  anyValue(value: AttrValue): Record<string, unknown> {
    if (typeof value === 'string') return this.object([['stringValue', value]]);
    if (typeof value === 'boolean') return this.object([['boolValue', value]]);
    if (value instanceof Uint8Array) return this.object([['bytesValue', this.base64(value)]]);
    if (Array.isArray(value)) return this.object([['arrayValue', this.object([['values', value.map((v) => this.anyValue(v))]])]]);
    if (typeof value === 'number') {
      // The model keeps int64 values as numbers; any integer inside int64 goes back as
      // intValue (it decodes to the same number), everything else as doubleValue.
      if (Number.isInteger(value) && !Object.is(value, -0)) {
        const big = BigInt(value);
        if (big >= INT64_MIN && big <= INT64_MAX) {
          return this.object([['intValue', this.style.int64AsNumber && Number.isSafeInteger(value) ? value : big.toString()]]);
        }
      }
      if (Number.isNaN(value)) return this.object([['doubleValue', 'NaN']]);
      if (value === Infinity) return this.object([['doubleValue', 'Infinity']]);
      if (value === -Infinity) return this.object([['doubleValue', '-Infinity']]);
      return this.object([['doubleValue', value]]);
    }
    return this.object([['kvlistValue', this.object([['values', this.attributes(value)]])]]);
  }

  attributes(values: Record<string, AttrValue>): Record<string, unknown>[] {
    return Object.keys(values).map((k) => this.object([['key', k], ['value', this.anyValue(values[k])]]));
  }

  span(s: ExpectedSpan): Record<string, unknown> {
    const d = this.style.explicitDefaults;
    return this.object([
      ['traceId', this.id(s.traceId)],
      ['spanId', this.id(s.spanId)],
      ['parentSpanId', s.parentSpanId === '' ? (d ? '' : undefined) : this.id(s.parentSpanId)],
      ['traceState', s.traceState === '' && !d ? undefined : s.traceState],
      ['flags', s.flags === 0 && !d ? undefined : s.flags],
      ['name', s.name],
      ['kind', this.enumValue(s.kind, SPAN_KINDS)],
      ['startTimeUnixNano', this.uint64(s.startNs)],
      ['endTimeUnixNano', this.uint64(s.endNs)],
      ['attributes', this.attributes(s.attributes)],
      ['droppedAttributesCount', d ? 0 : undefined],
      [
        'events',
        s.events.map((e) => this.object([['timeUnixNano', this.uint64(e.timeNs)], ['name', e.name], ['attributes', this.attributes(e.attributes)]])),
      ],
      ['status', s.statusCode === 0 && !d ? undefined : this.object([['code', this.enumValue(s.statusCode, STATUS_CODES) ?? null]])],
    ]);
  }

  /** Consecutive spans of one resource (the model shares the object) under one ResourceSpans. */
  request(spans: readonly ExpectedSpan[]): Record<string, unknown> {
    const resources: { attributes: Record<string, AttrValue>; spans: ExpectedSpan[] }[] = [];
    for (const s of spans) {
      const last = resources.at(-1);
      if (last !== undefined && last.attributes === s.resourceAttributes) last.spans.push(s);
      else resources.push({ attributes: s.resourceAttributes, spans: [s] });
    }
    return this.object([
      [
        'resourceSpans',
        resources.map((r) =>
          this.object([
            ['resource', this.object([['attributes', this.attributes(r.attributes)]])],
            ['scopeSpans', [this.object([['scope', this.object([['name', 'fuzz']])], ['spans', r.spans.map((s) => this.span(s))]])]],
          ]),
        ),
      ],
    ]);
  }
}

// ---------------------------------------------------------------------------------------
// Comparing decoded spans with the model.

function nsToMs(ns: bigint): number {
  return Number(ns) / 1e6;
}

function closeTo(ms: number, expected: number): boolean {
  return Math.abs(ms - expected) <= Math.abs(expected) * 1e-12 + 1e-6;
}

function viewFields(view: SpanView) {
  return {
    ids: [view.traceId, view.spanId, view.parentSpanId],
    name: view.name,
    kind: view.kind,
    statusCode: view.statusCode,
    traceState: view.traceState,
    flags: view.flags,
    attributes: Object.fromEntries(view.attributes()),
    resource: Object.fromEntries(view.resourceAttributes()),
    serviceName: view.serviceName,
    events: view.events().map((e) => ({ name: e.name, attributes: Object.fromEntries(e.attributes) })),
  };
}

function expectMatchesModel(views: readonly SpanView[], model: readonly ExpectedSpan[]): void {
  expect(views.map(viewFields)).toEqual(
    model.map((s) => {
      const service = s.resourceAttributes['service.name'];
      return {
        ids: [s.traceId, s.spanId, s.parentSpanId],
        name: s.name,
        kind: s.kind,
        statusCode: s.statusCode,
        traceState: s.traceState,
        flags: s.flags,
        attributes: s.attributes,
        resource: s.resourceAttributes,
        serviceName: typeof service === 'string' ? service : '',
        events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
      };
    }),
  );
  views.forEach((view, i) => {
    expect(closeTo(view.startMs, nsToMs(model[i].startNs))).toBe(true);
    expect(closeTo(view.endMs, nsToMs(model[i].endNs))).toBe(true);
    view.events().forEach((e, j) => expect(closeTo(e.timeMs, nsToMs(model[i].events[j].timeNs))).toBe(true));
  });
}

/** Spans in the order fragments hold them: by trace in first-seen order, request order within. */
function groupedByTrace(spans: readonly SpanView[]): SpanView[] {
  const traces = [...new Set(spans.map((s) => s.traceId))];
  return traces.flatMap((t) => spans.filter((s) => s.traceId === t));
}

describe('OTLP/JSON written from the request model', () => {
  it('decodes to exactly the model, whatever form the JSON takes', () => {
    fc.assert(
      fc.property(generatedRequest, jsonStyle, (generated: GeneratedRequest, style) => {
        const body = JSON.stringify(new JsonWriter(style).request(generated.spans));
        const result = decodeJsonRequest(body);
        if (!result.ok) throw result.error;
        expectMatchesModel(result.value.spans, generated.spans);
        expect(result.value.fragments.map((f) => f.traceId)).toEqual([...new Set(generated.spans.map((s) => s.traceId))]);
        // The bytes form the same request the protobuf decoder reads identically.
        const again = decodeProtobufRequest(concatRequests(result.value.fragments.map((f) => f.bytes)));
        if (!again.ok) throw again.error;
        expect(again.value.spans.map(viewFields)).toEqual(groupedByTrace(result.value.spans).map(viewFields));
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// Mutations.

/**
 * The decoder's contract on any input: a value, never an exception; a rejection is an
 * OtlpDecodeError with a reason; an acceptance is usable all the way (lazy fields decode)
 * and survives protobuf -> JSON -> protobuf unchanged.
 */
function checkJsonBody(body: string | Uint8Array): boolean {
  let result: DecodeResult | undefined;
  expect(() => {
    result = decodeJsonRequest(body);
  }).not.toThrow();
  if (result === undefined) return false;
  if (!result.ok) {
    expect(result.error).toBeInstanceOf(OtlpDecodeError);
    expect(result.error.message.length).toBeGreaterThan(0);
    return false;
  }
  const { spans, fragments } = result.value;
  spans.forEach(viewFields);
  const grouped = decodeProtobufRequest(concatRequests(fragments.map((f) => f.bytes)));
  if (!grouped.ok) throw grouped.error;
  expect(grouped.value.spans.map(viewFields)).toEqual(groupedByTrace(spans).map(viewFields));
  // Through the JSON object, not text: JSON text cannot hold -0, which a double may be.
  const back = decodeProtobufRequest(jsonRequestToProtobuf(protobufRequestToJson(concatRequests(fragments.map((f) => f.bytes)))));
  if (!back.ok) throw back.error;
  expect(back.value.spans.map(viewFields)).toEqual(grouped.value.spans.map(viewFields));
  expect(back.value.spans.map((s) => [s.startMs, s.endMs])).toEqual(grouped.value.spans.map((s) => [s.startMs, s.endMs]));
  return true;
}

const TRACE = '0102030405060708090a0b0c0d0e0f10';
const SPAN = 'a1a2a3a4a5a6a7a8';

/** JSON number literals JSON.stringify cannot write; edits place them through a marker string. */
const LITERALS = ['1e400', '-1e400', '1.5e-400', '-0', '123456789012345678901234567890', '18446744073709551616', '9223372036854775808', '1E2', '0.1', '4294967296'];
const literalMarker = (i: number): string => `@@literal-${i}@@`;

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom<unknown>(
    // Wrong-length, non-hex and look-alike ids.
    TRACE.slice(1),
    `${TRACE}0`,
    TRACE.replace('a', 'g'),
    `0x${TRACE.slice(2)}`,
    ` ${TRACE.slice(1)}`,
    '０１０２０３０４０５０６０７０８', // full-width digits
    '٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥',
    '0'.repeat(32),
    '0'.repeat(16),
    SPAN.toUpperCase(),
    // Numbers at and past the edges of the integer types.
    2 ** 32,
    -1,
    2 ** 53 + 2,
    -(2 ** 63),
    Number.MAX_VALUE,
    '18446744073709551615',
    '18446744073709551616',
    '-9223372036854775809',
    '1e3',
    '0x10',
    ' 12',
    '+5',
    '',
    'NaN',
    '-Infinity',
    // Enum names, real and borrowed from Object.prototype.
    'SPAN_KIND_SERVER',
    'STATUS_CODE_ERROR',
    'toString',
    '__proto__',
    'constructor',
    // Base64 edge cases.
    '====',
    'a',
    'YQ',
    'Y=Q=',
    '\u0000',
    '\ud800',
    '\udfff\ud800',
    '\u202e\u200b\ufeff',
    '🧪'.repeat(50),
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 0, max: LITERALS.length - 1 }).map(literalMarker),
);

type TreeEdit =
  | { readonly kind: 'replace'; readonly at: number; readonly value: unknown }
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'nest'; readonly at: number; readonly depth: number; readonly shape: 'array' | 'object' | 'anyValue' };

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

const treeEdit: fc.Arbitrary<TreeEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: position, value: hostileValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: position }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('nest' as const),
      at: position,
      depth: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(31, 32, 33, 300)),
      shape: fc.constantFrom('array' as const, 'object' as const, 'anyValue' as const),
    }),
  },
);

type Container = Record<string, unknown> | unknown[];

/** Every [container, key] in a JSON value, so one can be replaced or removed; iterative, as edits nest deeply. */
function slots(root: unknown): [Container, string | number][] {
  const out: [Container, string | number][] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        out.push([value, i]);
        stack.push(v);
      });
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        out.push([value as Record<string, unknown>, k]);
        stack.push(v);
      }
    }
  }
  return out;
}

function nested(depth: number, shape: 'array' | 'object' | 'anyValue', leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) {
    if (shape === 'array') value = [value];
    else if (shape === 'object') value = { a: value };
    else value = { arrayValue: { values: [value] } };
  }
  return value;
}

function applyTreeEdits(document: unknown, edits: readonly TreeEdit[]): unknown {
  const copy = structuredClone(document);
  for (const edit of edits) {
    const all = slots(copy);
    if (all.length === 0) break;
    const [container, key] = all[Math.floor(edit.at * all.length)];
    const c = container as Record<string | number, unknown>;
    if (edit.kind === 'replace') c[key] = edit.value;
    else if (edit.kind === 'delete') {
      if (Array.isArray(container)) container.splice(key as number, 1);
      else delete c[key];
    } else c[key] = nested(edit.depth, edit.shape, edit.shape === 'anyValue' ? { stringValue: 'leaf' } : c[key]);
  }
  return copy;
}

/**
 * JSON text with some object members written twice (the copy before or after, holding a
 * hostile value, so either may win) and some `__proto__` members added; `choices` drives it.
 */
function renderWithDuplicates(value: unknown, choices: readonly number[], extras: readonly unknown[]): string {
  let next = 0;
  const choose = (): number => choices[next++ % choices.length];
  const render = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(render).join(',')}]`;
    if (typeof v !== 'object' || v === null) return JSON.stringify(v) ?? 'null';
    const members = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${render(x)}`);
    const c = choose();
    if (members.length > 0 && c < 0.3) {
      const keys = Object.keys(v);
      const key = keys[Math.floor(choose() * keys.length)];
      const copy = `${JSON.stringify(key)}:${JSON.stringify(extras[Math.floor(choose() * extras.length)]) ?? 'null'}`;
      if (choose() < 0.5) members.unshift(copy);
      else members.push(copy);
    } else if (c < 0.4) {
      members.push('"__proto__":{"traceId":"not an id","spans":7}');
    }
    return `{${members.join(',')}}`;
  };
  return render(value);
}

function withLiterals(text: string): string {
  return text.replace(/"@@literal-(\d+)@@"/g, (_m, i: string) => LITERALS[Number(i)]);
}

type ByteEdit =
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'flip'; readonly at: number; readonly xor: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('flip' as const), at: position, xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: position,
    bytes: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 6 }),
      fc.constantFrom(...['{', '}', '[', ']', '"', ',', ':', '\\', '\\u', 'null', '\u00e9', '\ud83e\uddea'].map((s) => new TextEncoder().encode(s))),
      // Bytes that are never valid UTF-8 anywhere, and a UTF-16 byte order mark.
      fc.constantFrom(Uint8Array.of(0xc0, 0x80), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xff), Uint8Array.of(0xfe, 0xff)),
    ),
  }),
);

function applyByteEdits(text: string, edits: readonly ByteEdit[]): Uint8Array {
  let bytes = Buffer.from(text, 'utf8');
  for (const edit of edits) {
    const at = Math.floor(edit.at * bytes.length);
    if (edit.kind === 'truncate') bytes = bytes.subarray(0, at);
    else if (edit.kind === 'flip') {
      if (bytes.length > 0) bytes[at] ^= edit.xor;
    } else bytes = Buffer.concat([bytes.subarray(0, at), edit.bytes, bytes.subarray(at)]);
  }
  return new Uint8Array(bytes);
}

const sdkDocument = JSON.parse(Buffer.from(toJson([...tracerSpans(), ...handmadeSpans()])).toString('utf8')) as unknown;

/**
 * Valid documents to start from: the SDK's JSON and model requests written in assorted
 * styles, drawn once (with a fixed seed) so the runs go to mutations rather than generation.
 */
const startingDocuments: unknown[] = [
  sdkDocument,
  ...fc
    .sample(fc.tuple(generatedRequest, jsonStyle), { numRuns: 40, seed: 20261121 })
    .map(([g, style]) => new JsonWriter(style).request(g.spans)),
];
const validDocument = fc.constantFrom(...startingDocuments);

describe('mutated OTLP/JSON decodes or fails with OtlpDecodeError', () => {
  it('values replaced, removed or nested deeply (wrong types, huge numbers, bad ids, unicode)', () => {
    let accepted = 0;
    const runs = 2500;
    fc.assert(
      fc.property(validDocument, fc.array(treeEdit, { minLength: 1, maxLength: 3 }), (document, edits) => {
        if (checkJsonBody(withLiterals(JSON.stringify(applyTreeEdits(document, edits))))) accepted++;
      }),
      { numRuns: runs },
    );
    // Edits that land on unknown keys or leave a valid value keep the request valid.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(runs);
  });

  it('object members written twice, and __proto__ members', () => {
    let accepted = 0;
    const runs = 1500;
    fc.assert(
      fc.property(
        validDocument,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 30 }),
        fc.array(hostileValue, { minLength: 1, maxLength: 4 }),
        (document, choices, extras) => {
          if (checkJsonBody(withLiterals(renderWithDuplicates(document, choices, extras)))) accepted++;
        },
      ),
      { numRuns: runs },
    );
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(runs);
  });

  it('bytes truncated, flipped or inserted', () => {
    let accepted = 0;
    const runs = 5000;
    fc.assert(
      fc.property(validDocument, fc.array(byteEdit, { minLength: 1, maxLength: 3 }), (document, edits) => {
        if (checkJsonBody(applyByteEdits(JSON.stringify(document), edits))) accepted++;
      }),
      { numRuns: runs },
    );
    // A flip inside a string value, or an insertion inside one, often leaves valid JSON.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(runs);
  });

  it('deep nesting of the whole document is refused without exhausting the stack', () => {
    for (const depth of [1_000, 100_000, 1_000_000]) {
      expect(checkJsonBody(`${'['.repeat(depth)}${']'.repeat(depth)}`)).toBe(false);
      expect(checkJsonBody(`{"resourceSpans":${'['.repeat(depth)}${']'.repeat(depth)}}`)).toBe(false);
      expect(checkJsonBody(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)).toBe(true);
    }
  });
});

function isInt32Text(text: string): boolean {
  return /^-?\d+$/.test(text) && BigInt(text) >= -(2n ** 31n) && BigInt(text) < 2n ** 31n;
}

describe('enum names', () => {
  const withKind = (kind: unknown, code: unknown = 0): string =>
    JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE, spanId: SPAN, kind, status: { code } }] }] }] });

  it('accepts exactly the names of the enum and nothing inherited by a JavaScript object', () => {
    const inherited = ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...SPAN_KINDS, ...STATUS_CODES, ...inherited), fc.string({ maxLength: 20 })), (name) => {
        const kind = decodeJsonRequest(withKind(name));
        expect(kind.ok).toBe(SPAN_KINDS.includes(name) || isInt32Text(name));
        if (kind.ok && SPAN_KINDS.includes(name)) expect(kind.value.spans[0].kind).toBe(SPAN_KINDS.indexOf(name));
        const status = decodeJsonRequest(withKind(0, name));
        expect(status.ok).toBe(STATUS_CODES.includes(name) || isInt32Text(name));
      }),
      { numRuns: 400 },
    );
    for (const name of inherited) {
      const result = decodeJsonRequest(withKind(name));
      expect(result.ok ? '' : result.error.message).toMatch(/spans\[0\]\.kind: expected an integer or a SpanKind name/);
    }
  });
});
