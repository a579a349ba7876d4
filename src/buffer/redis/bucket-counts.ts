/**
 * The undecided traces and spans per bucket, as this instance last saw them. Every script
 * reply that changes a bucket carries its counts, and all buckets are read at most about once
 * a second, so the sum is a cheap, slightly stale view of the whole buffer (other instances
 * write too) for the "buffer full" check, which Redis cannot make atomically across buckets.
 */
export class BucketCounts {
  private readonly traces: number[];
  private readonly spans: number[];
  private totalTraces = 0;
  private totalSpans = 0;
  /** When every bucket was last read (performance.now() ms); -Infinity: never. */
  private readAllAtMs = -Infinity;

  constructor(buckets: number) {
    this.traces = new Array<number>(buckets).fill(0);
    this.spans = new Array<number>(buckets).fill(0);
  }

  get pendingTraces(): number {
    return this.totalTraces;
  }

  get pendingSpans(): number {
    return this.totalSpans;
  }

  set(bucket: number, traces: number, spans: number): void {
    this.totalTraces += traces - this.traces[bucket];
    this.totalSpans += spans - this.spans[bucket];
    this.traces[bucket] = traces;
    this.spans[bucket] = spans;
  }

  /** Marks a read of every bucket (after `set` for each). */
  readAll(atMs: number): void {
    this.readAllAtMs = atMs;
  }

  isStale(nowMs: number, maxAgeMs: number): boolean {
    return nowMs - this.readAllAtMs > maxAgeMs;
  }
}
