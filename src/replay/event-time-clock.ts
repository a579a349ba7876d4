import type { Clock } from '../clock.js';
import type { DecodedRequest } from '../otlp/types.js';

/**
 * The engine's clock during a replay: event time, read from the spans instead of the wall.
 *
 * A span reaches the live engine when its SDK exports it, which is shortly after it ends, and
 * a request reaches it once its last span has ended. So a captured request is replayed as
 * arriving at the largest span end time seen so far: the watermark. Taking the maximum over
 * everything read (not the request's own end time) keeps the clock from moving backwards when
 * captures are slightly out of order: the buffer's due-time index, the decision cache and the
 * rate-limiting policies all assume time only moves forward, and a span that ended before
 * the watermark is then what it would have been live, a span that arrives late.
 *
 * The clock only moves when replay moves it; nothing waits for the wall clock, so an hour of
 * traffic replays as fast as it can be decoded and decided.
 */
export class EventTimeClock implements Clock {
  private nowMs: number | undefined;

  /** Unix milliseconds of event time; 0 before the first span was seen. */
  now(): number {
    return this.nowMs ?? 0;
  }

  /** True once the clock has been set from a span. */
  get started(): boolean {
    return this.nowMs !== undefined;
  }

  /** Moves the clock to `ms` when that is later; never moves it back. */
  advanceTo(ms: number): void {
    if (this.nowMs === undefined || ms > this.nowMs) this.nowMs = ms;
  }
}

/** The latest end time among a request's spans (Unix ms), or undefined when it has none. */
export function latestSpanEnd(request: DecodedRequest): number | undefined {
  let latest: number | undefined;
  for (const span of request.spans) {
    if (latest === undefined || span.endMs > latest) latest = span.endMs;
  }
  return latest;
}
