import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { TokenBucket } from './token-bucket.js';

/**
 * `rate_limiting`: samples traces while the span budget lasts: a token bucket refilled at
 * `spans_per_second`, holding at most `burst_capacity` spans (default twice the rate); a
 * trace takes as many tokens as it has spans. A trace larger than the burst never passes.
 * Stateful: with `sample_on_first_match`, traces kept by an earlier policy do not use it up.
 */
export class RateLimitingEvaluator implements PolicyEvaluator {
  private readonly bucket: TokenBucket;

  constructor(spansPerSecond: number, burstCapacity: number = spansPerSecond * 2) {
    this.bucket = new TokenBucket(spansPerSecond, burstCapacity);
  }

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    return this.bucket.allow(ctx.nowMs, trace.spans.length) ? 'sampled' : 'not_sampled';
  }
}
