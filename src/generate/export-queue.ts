import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/**
 * Ended spans waiting for their service's next export, as in an SDK's BatchSpanProcessor.
 *
 * The generator ticks every `tickNs` of run time; at tick k each service exports the spans
 * that ended since tick k-1. Spans are created as soon as a trace is planned, with end times
 * in the (run-time) future, so they wait here in the bucket of the tick that follows their end.
 */
export interface ServiceBatch {
  readonly service: string;
  /** In end-time order, as a processor's queue holds them. */
  readonly spans: ReadableSpan[];
}

interface Queued {
  readonly endNs: number;
  readonly seq: number;
  readonly span: ReadableSpan;
}

export class ExportQueue {
  private readonly buckets = new Map<number, Map<string, Queued[]>>();
  /** The first tick not yet taken. */
  private nextTick = 1;
  private seq = 0;
  private queued = 0;

  constructor(
    private readonly tickNs: number,
    /** Services in the order their requests go out within a tick (fixed, for reproducible output). */
    private readonly serviceOrder: readonly string[],
  ) {}

  get size(): number {
    return this.queued;
  }

  add(service: string, span: ReadableSpan, endNs: number): void {
    // A span that ended before a tick already taken goes out with the next one.
    const tick = Math.max(Math.ceil(endNs / this.tickNs), this.nextTick);
    let bucket = this.buckets.get(tick);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(tick, bucket);
    }
    let list = bucket.get(service);
    if (!list) {
      list = [];
      bucket.set(service, list);
    }
    list.push({ endNs, seq: this.seq++, span });
    this.queued++;
  }

  /** The spans due at `tick` (all that ended by `tick × tickNs`), one batch per service. */
  takeDue(tick: number): ServiceBatch[] {
    const ticks: number[] = [];
    for (let t = this.nextTick; t <= tick; t++) if (this.buckets.has(t)) ticks.push(t);
    this.nextTick = Math.max(this.nextTick, tick + 1);
    return this.take(ticks);
  }

  /** Everything still queued, e.g. when the run is interrupted and must not lose spans. */
  takeAll(): ServiceBatch[] {
    return this.take([...this.buckets.keys()].sort((a, b) => a - b));
  }

  private take(ticks: readonly number[]): ServiceBatch[] {
    const byService = new Map<string, Queued[]>();
    for (const t of ticks) {
      const bucket = this.buckets.get(t);
      if (!bucket) continue;
      this.buckets.delete(t);
      for (const [service, list] of bucket) {
        const all = byService.get(service);
        if (!all) byService.set(service, list);
        else for (const queued of list) all.push(queued);
      }
    }
    const out: (ServiceBatch & { lastEndNs: number; order: number })[] = [];
    this.serviceOrder.forEach((service, order) => {
      const list = byService.get(service);
      if (!list) return;
      list.sort((a, b) => a.endNs - b.endNs || a.seq - b.seq);
      this.queued -= list.length;
      out.push({ service, spans: list.map((q) => q.span), lastEndNs: list[list.length - 1].endNs, order });
    });
    // Services whose spans ended earlier export earlier within the tick, so the service that
    // ended the root span (the last to end) usually sends last, as it would with real timers.
    out.sort((a, b) => a.lastEndNs - b.lastEndNs || a.order - b.order);
    return out.map(({ service, spans }) => ({ service, spans }));
  }
}
