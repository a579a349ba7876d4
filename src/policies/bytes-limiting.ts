import type { Decision, EvalContext, PolicyEvaluator, TraceView } from './evaluator.js';
import { TokenBucket } from './token-bucket.js';

/**
 * `bytes_limiting`: samples traces while the byte budget lasts: a token bucket refilled at
 * `bytes_per_second`, holding at most `burst_capacity` bytes (default twice the rate); a
 * trace takes as many tokens as its protobuf size. A trace larger than the burst never passes.
 *
 * The size is that of the trace's buffered protobuf fragments; the Collector measures the
 * same spans re-marshalled, which can differ by a few bytes of framing per resource.
 */
export class BytesLimitingEvaluator implements PolicyEvaluator {
  private readonly bucket: TokenBucket;

  constructor(bytesPerSecond: number, burstCapacity: number = bytesPerSecond * 2) {
    this.bucket = new TokenBucket(bytesPerSecond, burstCapacity);
  }

  evaluate(trace: TraceView, ctx: EvalContext): Decision {
    return this.bucket.allow(ctx.nowMs, trace.byteSize) ? 'sampled' : 'not_sampled';
  }
}
