import { scrape, sampleValue, type PromSample } from '../telemetry/prometheus-text.js';

interface Scrape {
  readonly atMs: number;
  readonly samples: readonly PromSample[];
}

/**
 * Scrapes an engine's /metrics at a fixed interval while a fault plays out, so that a case can
 * report what happened during it (how long intake was paused, the peak of a gauge) rather than
 * only the end state. A failed scrape (the engine busy or gone) is skipped, not fatal.
 */
export class MetricsSampler {
  private readonly scrapes: Scrape[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly adminUrl: string,
    private readonly intervalMs = 500,
  ) {}

  start(): this {
    const tick = (): void => {
      this.inFlight = scrape(this.adminUrl)
        .then((samples) => {
          this.scrapes.push({ atMs: Date.now(), samples });
        })
        .catch(() => undefined)
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  get count(): number {
    return this.scrapes.length;
  }

  /**
   * The largest value a sample took over the run, or over scrapes taken between `fromMs` and
   * `toMs` (epoch ms) when given; undefined when it never appeared.
   */
  max(name: string, labels: Record<string, string> = {}, fromMs = -Infinity, toMs = Infinity): number | undefined {
    let max: number | undefined;
    for (const s of this.scrapes) {
      if (s.atMs < fromMs || s.atMs > toMs) continue;
      const v = sampleValue(s.samples, name, labels);
      if (v !== undefined && !Number.isNaN(v)) max = max === undefined ? v : Math.max(max, v);
    }
    return max;
  }

  /** The last value scraped; undefined when it never appeared. */
  last(name: string, labels: Record<string, string> = {}): number | undefined {
    for (let i = this.scrapes.length - 1; i >= 0; i--) {
      const v = sampleValue(this.scrapes[i].samples, name, labels);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /**
   * Milliseconds covered by scrapes where the sample met `holds`: each such scrape counts for
   * the time until the next scrape, so the figure is as fine as the interval.
   */
  timeWhere(name: string, holds: (v: number) => boolean, labels: Record<string, string> = {}): number {
    let ms = 0;
    for (let i = 0; i + 1 < this.scrapes.length; i++) {
      const v = sampleValue(this.scrapes[i].samples, name, labels);
      if (v !== undefined && holds(v)) ms += this.scrapes[i + 1].atMs - this.scrapes[i].atMs;
    }
    return ms;
  }
}

/** One counter's current value summed over every label set, 0 when absent. */
export async function counterTotal(adminUrl: string, name: string): Promise<number> {
  const samples = await scrape(adminUrl);
  return samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}
