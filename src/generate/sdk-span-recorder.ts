import {
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type HrTime,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  type IdGenerator,
  type ReadableSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Prng } from './prng.js';
import type { PlannedSpan } from './trace-plan.js';

/**
 * Turns planned traces into spans of the OpenTelemetry JS SDK, so what is serialized is what a
 * real service sends. Each service has its own BasicTracerProvider (and so its own Resource);
 * its span processor hands every ended span to `onEnded`, the way a BatchSpanProcessor would
 * queue it for export.
 */

/**
 * Trace and span ids from a seeded stream: the same seed gives the same ids. Spans a fault
 * added draw from `injectedRng` instead (while `injected` is set), so adding them does not
 * shift the ids of every span after them.
 */
export class SeededIdGenerator implements IdGenerator {
  injected = false;

  constructor(
    private readonly rng: Prng,
    private readonly injectedRng: Prng = rng,
  ) {}

  generateTraceId(): string {
    return this.rng.hex(32);
  }

  generateSpanId(): string {
    return (this.injected ? this.injectedRng : this.rng).hex(16);
  }
}

/**
 * Maps offsets from the start of the run (nanoseconds) to absolute times. Kept as whole
 * seconds plus nanoseconds, because Unix nanoseconds do not fit in a double exactly.
 */
export class RunEpoch {
  private readonly baseSeconds: number;
  private readonly baseNanos: number;

  /** `startMs` is the Unix time, in whole milliseconds, that offset 0 stands for. */
  constructor(readonly startMs: number) {
    const whole = Math.floor(startMs);
    this.baseSeconds = Math.floor(whole / 1000);
    this.baseNanos = (whole - this.baseSeconds * 1000) * 1_000_000;
  }

  toHrTime(offsetNs: number): HrTime {
    const total = this.baseNanos + offsetNs;
    const seconds = Math.floor(total / 1e9);
    return [this.baseSeconds + seconds, total - seconds * 1e9];
  }

  offsetNs(time: HrTime): number {
    return (time[0] - this.baseSeconds) * 1e9 + (time[1] - this.baseNanos);
  }

  /** Unix milliseconds (fractional) of an offset. */
  toUnixMs(offsetNs: number): number {
    return Math.floor(this.startMs) + offsetNs / 1e6;
  }
}

export interface RecordedService {
  readonly name: string;
  readonly resource: Attributes;
}

export class SdkSpanRecorder {
  private readonly providers = new Map<string, BasicTracerProvider>();
  private readonly tracers = new Map<string, Tracer>();

  constructor(
    services: readonly RecordedService[],
    private readonly idGenerator: IdGenerator,
    onEnded: (service: string, span: ReadableSpan) => void,
  ) {
    for (const service of services) {
      const processor: SpanProcessor = {
        onStart: () => {},
        onEnd: (span) => onEnded(service.name, span),
        forceFlush: async () => {},
        shutdown: async () => {},
      };
      this.providers.set(
        service.name,
        new BasicTracerProvider({
          resource: resourceFromAttributes(service.resource),
          idGenerator,
          sampler: new AlwaysOnSampler(),
          spanProcessors: [processor],
        }),
      );
    }
  }

  /** Creates and ends the SDK spans of a laid-out trace; returns its trace id. */
  record(root: PlannedSpan, epoch: RunEpoch): string {
    return this.recordSpan(root, undefined, epoch).traceId;
  }

  private recordSpan(
    planned: PlannedSpan,
    parent: { context: SpanContext; service: string } | undefined,
    epoch: RunEpoch,
  ): SpanContext {
    let context = ROOT_CONTEXT;
    if (parent) {
      // Across a service boundary the parent arrives through propagation headers, as a remote context.
      const parentContext = parent.service === planned.service ? parent.context : { ...parent.context, isRemote: true };
      context = trace.setSpanContext(ROOT_CONTEXT, parentContext);
    }
    const ids = this.idGenerator instanceof SeededIdGenerator ? this.idGenerator : undefined;
    if (ids !== undefined) ids.injected = planned.injected;
    const span = this.tracer(planned).startSpan(
      planned.name,
      { kind: planned.kind, attributes: planned.attributes, startTime: epoch.toHrTime(planned.startNs) },
      context,
    );
    if (ids !== undefined) ids.injected = false;
    const spanContext = span.spanContext();
    for (const child of planned.children()) this.recordSpan(child, { context: spanContext, service: planned.service }, epoch);

    const end = epoch.toHrTime(planned.endNs);
    if (planned.outcome) span.setAttribute(planned.outcome.key, planned.failed ? planned.outcome.failed : planned.outcome.ok);
    if (planned.failed) {
      if (planned.exception) {
        span.recordException({ name: planned.exception.type, message: planned.exception.message }, end);
      }
      span.setAttribute(
        'error.type',
        planned.exception?.type ?? String(planned.outcome?.failed ?? '_OTHER'),
      );
      span.setStatus({ code: SpanStatusCode.ERROR, message: planned.errorMessage });
    }
    span.end(end);
    return spanContext;
  }

  private tracer(planned: PlannedSpan): Tracer {
    const key = `${planned.service}\u0000${planned.scope.name}`;
    let tracer = this.tracers.get(key);
    if (!tracer) {
      const provider = this.providers.get(planned.service);
      if (!provider) throw new Error(`no tracer provider for service ${planned.service}`);
      tracer = provider.getTracer(planned.scope.name, planned.scope.version);
      this.tracers.set(key, tracer);
    }
    return tracer;
  }
}
