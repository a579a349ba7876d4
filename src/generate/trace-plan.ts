import type { AttributeValue, Attributes, SpanKind } from '@opentelemetry/api';

/**
 * A trace before it becomes SDK spans: who does what, for how long, and in which order.
 *
 * Durations are not stored on spans. A span is a list of steps (its own work, a call to a
 * child, a fan-out of parallel children), and its start and end come from laying the steps
 * out in time. That is what lets a latency fault make a service slower and have every
 * ancestor stretch to contain it, while children always stay inside their parents.
 */
export type PlanStep =
  | { readonly type: 'work'; readonly ns: number }
  | { readonly type: 'call'; readonly span: PlannedSpan }
  | { readonly type: 'parallel'; readonly spans: readonly PlannedSpan[] };

/** The instrumentation library that would have produced a span in a real service. */
export interface InstrumentationScope {
  readonly name: string;
  readonly version: string;
}

/**
 * An attribute whose value depends on how the span ended, e.g. `http.response.status_code`
 * 200 or 500. It is written when the span is emitted, so errors injected by a fault change it too.
 */
export interface SpanOutcome {
  readonly key: string;
  readonly ok: AttributeValue;
  readonly failed: AttributeValue;
}

/** An exception recorded as a span event where an error was raised. */
export interface PlannedException {
  readonly type: string;
  readonly message: string;
}

export class PlannedSpan {
  readonly steps: PlanStep[] = [];
  readonly attributes: Attributes;
  /** Time between where the parent schedules this span and its start (network, queueing). */
  delayNs = 0;
  outcome: SpanOutcome | undefined;
  /** Set when the span ends with status ERROR. */
  errorMessage: string | undefined;
  /** Set on the span that raised the error; it gets an `exception` event. */
  exception: PlannedException | undefined;
  /** Offsets from the start of the run, in nanoseconds, set by {@link layoutTrace}. */
  startNs = 0;
  endNs = 0;
  /** Labels of the faults that changed this span. */
  readonly faults: string[] = [];
  /**
   * Added by a fault rather than planned by the scenario: its ids come from a stream of their
   * own, so the scenario's spans keep the ids they have in a run without faults.
   */
  injected = false;

  constructor(
    readonly service: string,
    readonly scope: InstrumentationScope,
    readonly name: string,
    readonly kind: SpanKind,
    attributes: Attributes = {},
  ) {
    this.attributes = { ...attributes };
  }

  /** Time the span spends on its own, not waiting for a child. */
  work(ns: number): this {
    if (ns > 0) this.steps.push({ type: 'work', ns: Math.round(ns) });
    return this;
  }

  call(span: PlannedSpan): this {
    this.steps.push({ type: 'call', span });
    return this;
  }

  /** Children that run at the same time; the span waits for the slowest. */
  parallel(spans: readonly PlannedSpan[]): this {
    if (spans.length === 1) return this.call(spans[0]);
    if (spans.length > 1) this.steps.push({ type: 'parallel', spans });
    return this;
  }

  set(key: string, value: AttributeValue): this {
    this.attributes[key] = value;
    return this;
  }

  /** Ends the span with status ERROR; `raised` adds an exception event (where the error started). */
  fail(message: string, raised?: PlannedException): this {
    this.errorMessage = message;
    if (raised) this.exception = raised;
    return this;
  }

  get failed(): boolean {
    return this.errorMessage !== undefined;
  }

  children(): PlannedSpan[] {
    const out: PlannedSpan[] = [];
    for (const step of this.steps) {
      if (step.type === 'call') out.push(step.span);
      else if (step.type === 'parallel') out.push(...step.spans);
    }
    return out;
  }
}

/**
 * Decides, as each span's start time becomes known, whether a fault applies to it. Returns
 * the factor by which the span's own work is slowed (1 for none); may mark the span failed.
 */
export interface LayoutHook {
  /** Called once per trace before its first span; per-trace draws start afresh. */
  beginTrace?(root: PlannedSpan, startNs: number): void;
  /** May add steps to `span` (a call to a new dependency); they are laid out with the rest. */
  enter(span: PlannedSpan, startNs: number): number;
}

/**
 * Places every span of the tree in time, starting the root at `startNs`. Spans are visited
 * parent first, children in step order, which is also the order their ids are drawn in.
 */
export function layoutTrace(root: PlannedSpan, startNs: number, hook?: LayoutHook): void {
  hook?.beginTrace?.(root, startNs);
  place(root, startNs, hook);
}

function place(span: PlannedSpan, startNs: number, hook: LayoutHook | undefined): void {
  span.startNs = startNs;
  const factor = hook ? hook.enter(span, startNs) : 1;
  let t = startNs;
  for (const step of span.steps) {
    if (step.type === 'work') {
      t += factor === 1 ? step.ns : Math.round(step.ns * factor);
    } else if (step.type === 'call') {
      place(step.span, t + step.span.delayNs, hook);
      t = step.span.endNs;
    } else {
      let end = t;
      for (const child of step.spans) {
        place(child, t + child.delayNs, hook);
        if (child.endNs > end) end = child.endNs;
      }
      t = end;
    }
  }
  // A span with no steps still lasts a microsecond, as a real one would.
  span.endNs = t > startNs ? t : startNs + 1_000;
}

/** Every span of the tree, parent before children, children in step order. */
export function spansOf(root: PlannedSpan): PlannedSpan[] {
  const out: PlannedSpan[] = [];
  const stack: PlannedSpan[] = [root];
  while (stack.length > 0) {
    const span = stack.pop() as PlannedSpan;
    out.push(span);
    const children = span.children();
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return out;
}
