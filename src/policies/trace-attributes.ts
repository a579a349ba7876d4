import type { AttrValue, SpanView } from '../otlp/types.js';
import type { TraceView } from './evaluator.js';

/**
 * The attribute scan of the Collector's attribute policies: a trace matches when the
 * resource of any of its spans, or any span itself, satisfies the condition. Resource
 * attributes come first because the Collector checks a ResourceSpans' resource before its
 * spans; the result does not depend on the order, only the work does.
 */
export function anyResourceOrSpan(
  trace: TraceView,
  key: string,
  resourceMatches: (value: AttrValue) => boolean,
  spanMatches: (value: AttrValue) => boolean,
): boolean {
  for (const span of trace.spans) {
    const resourceValue = span.resourceAttribute(key);
    if (resourceValue !== undefined && resourceMatches(resourceValue)) return true;
    const spanValue = span.attribute(key);
    if (spanValue !== undefined && spanMatches(spanValue)) return true;
  }
  return false;
}

/** True when any span satisfies the condition. */
export function anySpan(trace: TraceView, matches: (span: SpanView) => boolean): boolean {
  for (const span of trace.spans) if (matches(span)) return true;
  return false;
}
