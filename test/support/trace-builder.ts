import type { AttrValue, SpanEventView, SpanView } from '../../src/otlp/types.js';
import type { TraceView } from '../../src/policies/evaluator.js';

/** A span as tests describe it; everything has a plain default. */
export interface SpanSpec {
  readonly traceId?: string;
  readonly spanId?: string;
  /** '' (the default) makes a root span. */
  readonly parentSpanId?: string;
  readonly name?: string;
  readonly kind?: number;
  readonly startMs?: number;
  /** End time; defaults to startMs + durationMs. */
  readonly endMs?: number;
  readonly durationMs?: number;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode?: number;
  readonly traceState?: string;
  readonly flags?: number;
  readonly attributes?: Readonly<Record<string, AttrValue>>;
  /** Resource attributes; spans given the same object share one resource. */
  readonly resource?: Readonly<Record<string, AttrValue>>;
  readonly events?: readonly SpanEventView[];
}

export const DEFAULT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const BASE_MS = 1_700_000_000_000;

const resourceMaps = new WeakMap<object, ReadonlyMap<string, AttrValue>>();
const EMPTY_RESOURCE: Readonly<Record<string, AttrValue>> = {};
let spanCounter = 0;

/** A SpanView built directly from a spec (no protobuf involved). */
export function makeSpan(spec: SpanSpec = {}): SpanView {
  const attributes = new Map(Object.entries(spec.attributes ?? {}));
  const resourceObject = spec.resource ?? EMPTY_RESOURCE;
  let resource = resourceMaps.get(resourceObject);
  if (resource === undefined) {
    resource = new Map(Object.entries(resourceObject));
    resourceMaps.set(resourceObject, resource);
  }
  const startMs = spec.startMs ?? BASE_MS;
  const endMs = spec.endMs ?? startMs + (spec.durationMs ?? 1);
  const resourceMap = resource;
  spanCounter += 1;
  const serviceName = resourceMap.get('service.name');
  return {
    traceId: spec.traceId ?? DEFAULT_TRACE_ID,
    spanId: spec.spanId ?? spanCounter.toString(16).padStart(16, '0'),
    parentSpanId: spec.parentSpanId ?? '',
    name: spec.name ?? 'operation',
    kind: spec.kind ?? 1,
    startMs,
    endMs,
    statusCode: spec.statusCode ?? 0,
    traceState: spec.traceState ?? '',
    flags: spec.flags ?? 0,
    serviceName: typeof serviceName === 'string' ? serviceName : '',
    attribute: (key) => attributes.get(key),
    resourceAttribute: (key) => resourceMap.get(key),
    attributes: () => attributes,
    resourceAttributes: () => resourceMap,
    events: () => spec.events ?? [],
  };
}

/** A trace of the given spans; they all get the trace's id. */
export function makeTrace(specs: readonly SpanSpec[], options: { traceId?: string; byteSize?: number } = {}): TraceView {
  const traceId = options.traceId ?? specs[0]?.traceId ?? DEFAULT_TRACE_ID;
  const spans = specs.map((spec) => makeSpan({ ...spec, traceId }));
  return { traceId, spans, byteSize: options.byteSize ?? spans.length * 100 };
}

/** A trace whose spans run from `startMs` for `durationMs` in total (root first, children inside). */
export function traceWithDuration(durationMs: number, spanCount = 2, traceId = DEFAULT_TRACE_ID): TraceView {
  const specs: SpanSpec[] = [{ startMs: BASE_MS, endMs: BASE_MS + durationMs }];
  for (let i = 1; i < spanCount; i++) specs.push({ parentSpanId: 'aaaaaaaaaaaaaaaa', startMs: BASE_MS + durationMs / 4, endMs: BASE_MS + durationMs / 2 });
  return makeTrace(specs, { traceId });
}

export const TEST_BASE_MS = BASE_MS;
