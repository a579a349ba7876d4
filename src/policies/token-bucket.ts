/**
 * A token bucket as golang.org/x/time/rate's Limiter.AllowN behaves, the limiter behind the
 * Collector's rate_limiting and bytes_limiting policies: the bucket starts full, refills
 * continuously at `ratePerSecond` up to `burst`, and a request for n tokens either takes them
 * all or takes none (a refused request costs nothing). A request larger than the burst never
 * passes. Time comes from the caller, so replay runs it in event time.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number | undefined;
  private burst: number;

  constructor(
    private readonly ratePerSecond: number,
    burst: number,
  ) {
    this.burst = burst;
    this.tokens = burst;
  }

  /** Takes `n` tokens at `nowMs` if the bucket holds them. */
  allow(nowMs: number, n: number): boolean {
    // x/time/rate special-cases a zero rate: the burst is a one-off allowance, never refilled.
    if (this.ratePerSecond === 0) {
      if (n > this.burst) return false;
      this.burst -= n;
      return true;
    }
    if (n > this.burst) return false;
    // Time going backwards (replayed input out of order) refills nothing; x/time/rate would
    // move its clock back and count the same interval again once time moves forward.
    const elapsedMs = this.lastMs === undefined ? 0 : Math.max(0, nowMs - this.lastMs);
    const available = Math.min(this.burst, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
    if (available < n) return false;
    this.tokens = available - n;
    this.lastMs = this.lastMs === undefined ? nowMs : Math.max(this.lastMs, nowMs);
    return true;
  }
}
