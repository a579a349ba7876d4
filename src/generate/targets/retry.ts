import { setTimeout as sleep } from 'node:timers/promises';
import { TailsiftError, SinkError } from '../../errors.js';
import type { TargetStats } from './trace-target.js';

/** How long a target keeps trying one request before it counts it as failed. */
export interface RetryPolicy {
  /** Attempts after the first. Default 8. */
  readonly maxRetries: number;
  /** Wait before the first retry when the target did not say (no Retry-After), in ms; doubles per retry. Default 250. */
  readonly initialBackoffMs: number;
  /** Longest wait between two attempts, Retry-After included, in ms. Default 30000. */
  readonly maxBackoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 8, initialBackoffMs: 250, maxBackoffMs: 30_000 };

/**
 * Runs `attempt` until it succeeds, retrying while the error says it is retriable (and, for a
 * SinkError, after the wait the target asked for). Returns false, with the request counted as
 * failed, when it gives up; nothing is dropped without being counted.
 */
export async function deliverWithRetry(
  attempt: () => Promise<void>,
  policy: RetryPolicy,
  stats: TargetStats,
  spanCount: number,
): Promise<boolean> {
  for (let retry = 0; ; retry++) {
    try {
      await attempt();
      return true;
    } catch (err) {
      const retriable = err instanceof TailsiftError && err.retriable;
      if (!retriable || retry >= policy.maxRetries) {
        stats.failedRequests++;
        stats.failedSpans += spanCount;
        stats.lastError = err instanceof Error ? err.message : String(err);
        return false;
      }
      stats.retries++;
      const asked = err instanceof SinkError ? err.retryAfterMs : undefined;
      const backoff = policy.initialBackoffMs * 2 ** retry * (0.8 + 0.4 * Math.random());
      await sleep(Math.min(asked ?? backoff, policy.maxBackoffMs));
    }
  }
}

/** Milliseconds from a Retry-After header (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
