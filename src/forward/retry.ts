import { setTimeout as sleepMs } from 'node:timers/promises';
import { TailsiftError } from '../errors.js';

/**
 * Exponential backoff with jitter, bounded by a total time, for anything that delivers to a
 * remote destination (OTLP/HTTP and Kafka sinks, alert sinks). The functions here are pure;
 * `runWithRetry` takes its clock, sleep and randomness from the caller so tests need no timers.
 */
export interface RetrySettings {
  /** Delay before the first retry, ms. */
  readonly initialMs: number;
  /** Longest backoff delay, ms. A destination's Retry-After may ask for longer and is honoured. */
  readonly maxMs: number;
  /** Time after the first attempt past which no retry starts, ms. */
  readonly maxElapsedMs: number;
  /** Growth of the delay per retry. Default 2. */
  readonly multiplier?: number;
  /** Fraction of a delay that jitter may take off, from 0 (none) to 1. Default 0.5. */
  readonly jitter?: number;
}

export const DEFAULT_RETRY: Required<RetrySettings> = {
  initialMs: 500,
  maxMs: 10_000,
  maxElapsedMs: 60_000,
  multiplier: 2,
  jitter: 0.5,
};

/**
 * The backoff delay before retry number `retryIndex` (0 for the first retry):
 * `initialMs * multiplier^retryIndex`, capped at `maxMs`, less a random share of up to
 * `jitter` of it. Jitter only shortens, so the cap holds and clients that failed together
 * spread out instead of retrying in step.
 */
export function backoffDelayMs(settings: RetrySettings, retryIndex: number, random: () => number = Math.random): number {
  const multiplier = settings.multiplier ?? DEFAULT_RETRY.multiplier;
  const jitter = Math.min(1, Math.max(0, settings.jitter ?? DEFAULT_RETRY.jitter));
  const base = Math.min(settings.maxMs, settings.initialMs * multiplier ** retryIndex);
  return base * (1 - jitter * random());
}

/**
 * Milliseconds a `Retry-After` header asks to wait: delay-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`, counted from `nowMs`; a past date means now).
 * Undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Date.parse also reads ISO strings; only the HTTP-date form (which names a weekday) is meant here.
  if (!/^[A-Za-z]{3},/.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

export interface RetryState {
  /** Retries done so far (0 after the first attempt failed). */
  readonly retryIndex: number;
  /** Time since the first attempt started, ms. */
  readonly elapsedMs: number;
  /** What the destination asked for with its last answer, ms, if it did. */
  readonly retryAfterMs?: number | undefined;
}

/**
 * How long to wait before the next attempt, or undefined to give up because the wait would
 * end past `maxElapsedMs`. A destination's Retry-After replaces the backoff delay.
 */
export function nextRetryDelayMs(settings: RetrySettings, state: RetryState, random: () => number = Math.random): number | undefined {
  const delay = state.retryAfterMs ?? backoffDelayMs(settings, state.retryIndex, random);
  if (state.elapsedMs + delay > settings.maxElapsedMs) return undefined;
  return delay;
}

export interface RetryRuntime {
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Builds the error thrown when retrying stops on a retriable failure. Default: that failure. */
  readonly giveUp?: (last: TailsiftError, attempts: number, elapsedMs: number) => Error;
}

/**
 * Runs `attempt` until it resolves. A TailsiftError with `retriable` set is retried after
 * `nextRetryDelayMs` (its `retryAfterMs`, when it has one, is the destination's ask); any
 * other error ends at once. `attempt` receives the attempt number, from 1.
 */
export async function runWithRetry<T>(
  attempt: (attemptNo: number) => Promise<T>,
  settings: RetrySettings,
  runtime: RetryRuntime = {},
): Promise<T> {
  const now = runtime.now ?? Date.now;
  const sleep = runtime.sleep ?? ((ms: number) => sleepMs(ms).then(() => undefined));
  const random = runtime.random ?? Math.random;
  const startedAt = now();
  for (let attemptNo = 1; ; attemptNo += 1) {
    try {
      return await attempt(attemptNo);
    } catch (err) {
      if (!(err instanceof TailsiftError) || !err.retriable) throw err;
      const elapsedMs = now() - startedAt;
      const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
      const delay = nextRetryDelayMs(
        settings,
        { retryIndex: attemptNo - 1, elapsedMs, retryAfterMs: typeof retryAfterMs === 'number' ? retryAfterMs : undefined },
        random,
      );
      if (delay === undefined) throw runtime.giveUp?.(err, attemptNo, elapsedMs) ?? err;
      await sleep(delay);
    }
  }
}
