/**
 * RED metrics (rate, errors, duration) per service and operation, counted from every span at
 * intake, before sampling: what dashboards need is the traffic, not the kept share of it.
 * Counters only grow, as Prometheus counters and histograms expect.
 */

/** Upper bounds (seconds) of the duration histogram: Prometheus' default buckets. */
export const RED_DURATION_BUCKETS_S: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Service and operation of the series that holds the spans of pairs past the cardinality cap. */
export const RED_OVERFLOW_LABEL = '~overflow';

export interface RedSeries {
  readonly service: string;
  readonly operation: string;
  /** Spans seen (the rate is its derivative). */
  readonly requests: number;
  /** Spans with status ERROR. */
  readonly errors: number;
  readonly durationSecondsSum: number;
  /** Cumulative counts per upper bound of RED_DURATION_BUCKETS_S; `+Inf` is `requests`. */
  readonly durationBuckets: readonly number[];
}

export class RedCounts {
  requests = 0;
  errors = 0;
  durationSecondsSum = 0;
  /** Non-cumulative counts per bucket; the last slot is above the largest bound. */
  private readonly counts = new Float64Array(RED_DURATION_BUCKETS_S.length + 1);

  constructor(
    readonly service: string,
    readonly operation: string,
  ) {}

  record(ms: number, error: boolean): void {
    const seconds = ms / 1000;
    this.requests += 1;
    if (error) this.errors += 1;
    this.durationSecondsSum += seconds;
    let i = 0;
    while (i < RED_DURATION_BUCKETS_S.length && seconds > RED_DURATION_BUCKETS_S[i]) i++;
    this.counts[i] += 1;
  }

  series(): RedSeries {
    const durationBuckets: number[] = [];
    let running = 0;
    for (let i = 0; i < RED_DURATION_BUCKETS_S.length; i++) {
      running += this.counts[i];
      durationBuckets.push(running);
    }
    return {
      service: this.service,
      operation: this.operation,
      requests: this.requests,
      errors: this.errors,
      durationSecondsSum: this.durationSecondsSum,
      durationBuckets,
    };
  }
}
