import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisTraceBuffer } from '../../src/buffer/redis/redis-trace-buffer.js';
import type { CompletionSettings, PendingCounts } from '../../src/buffer/trace-buffer.js';

/** One look at the Redis server while the engine fills and empties its buffer. */
export interface RedisBufferSample {
  readonly atMs: number;
  /** Undecided spans and traces in the buffer (its per-bucket counts). */
  readonly pendingSpans: number;
  readonly pendingTraces: number;
  /**
   * Traces decided by then (as the caller counts them): each leaves a small decision-cache
   * entry in Redis, which the memory delta includes.
   */
  readonly decidedTraces: number;
  /** Redis `used_memory` minus its value before the engine started. */
  readonly usedMemoryDelta: number;
  /**
   * Of `used_memory` at this moment: client query/output buffers and the AOF buffer, which
   * hold requests in transit rather than buffered spans (included in the delta all the same).
   */
  readonly transitBytes: number;
}

export interface RedisBufferWatchReport {
  /** The sample with the most spans buffered; undefined when nothing was ever buffered. */
  readonly highWater: RedisBufferSample | undefined;
  /**
   * The sample with the most spans buffered while no trace had been decided yet: the buffer
   * alone, without the decision-cache entries decided traces leave in Redis.
   */
  readonly beforeDecisions: RedisBufferSample | undefined;
  readonly samples: number;
  /** CPU seconds the Redis server used (user + system, every client's work) while watched. */
  readonly redisCpuSeconds: number;
}

interface MemoryInfo {
  readonly used: number;
  readonly transit: number;
  readonly lazyfreePending: number;
}

function field(info: string, name: string): number {
  return Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
}

async function memoryInfo(redis: Redis): Promise<MemoryInfo> {
  const info = await redis.info('memory');
  return {
    used: field(info, 'used_memory'),
    transit: field(info, 'mem_clients_normal') + field(info, 'mem_aof_buffer'),
    lazyfreePending: field(info, 'lazyfree_pending_objects'),
  };
}

async function cpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return field(info, 'used_cpu_user') + field(info, 'used_cpu_sys');
}

/**
 * Watches a Redis trace buffer from outside the engine: every `intervalMs`, Redis's memory
 * (INFO) and the buffer's pending counts, keeping the sample with the most spans buffered.
 * Memory is measured against a baseline taken at `start`, once Redis has finished freeing
 * whatever earlier runs deleted, so the delta at the high-water mark is what the buffered
 * spans (and their indexes, envelopes and the decisions made so far) take.
 *
 * It runs in the engine's process; one sample is two round trips (a few hundred bytes and 64
 * small hash reads), a small fraction of a millisecond of CPU.
 */
export class RedisBufferWatch {
  private highWater: RedisBufferSample | undefined;
  private beforeDecisions: RedisBufferSample | undefined;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private stopped = false;

  private constructor(
    private readonly redis: Redis,
    private readonly observer: RedisTraceBuffer,
    private readonly baselineBytes: number,
    private readonly cpuAtStart: number,
    private readonly intervalMs: number,
    private readonly decided: () => number,
  ) {}

  /** Connects, takes the memory baseline and starts sampling. */
  static async start(options: {
    readonly url: string;
    readonly prefix: string;
    readonly settings: CompletionSettings;
    readonly intervalMs?: number;
    /** Traces decided so far, recorded with each sample. */
    readonly decided?: () => number;
  }): Promise<RedisBufferWatch> {
    const redis = new Redis(options.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    await redis.connect();
    try {
      const observer = await RedisTraceBuffer.connect({ redis, prefix: options.prefix, settings: options.settings });
      const baseline = (await settledMemory(redis)).used;
      const watch = new RedisBufferWatch(redis, observer, baseline, await cpuSeconds(redis), options.intervalMs ?? 250, options.decided ?? (() => 0));
      watch.schedule();
      return watch;
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }

  /** The buffer's pending counts now (read from every bucket). */
  pending(): Promise<PendingCounts> {
    return this.observer.pending();
  }

  /** Stops sampling and disconnects. */
  async stop(): Promise<RedisBufferWatchReport> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.sampling;
    const redisCpuSeconds = (await cpuSeconds(this.redis)) - this.cpuAtStart;
    await this.observer.close();
    await this.redis.quit();
    return { highWater: this.highWater, beforeDecisions: this.beforeDecisions, samples: this.samples, redisCpuSeconds };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sampling = this.sample().finally(() => this.schedule());
    }, this.intervalMs);
  }

  private async sample(): Promise<void> {
    try {
      const [memory, pending] = await Promise.all([memoryInfo(this.redis), this.observer.pending()]);
      this.samples++;
      const sample: RedisBufferSample = {
        atMs: Date.now(),
        pendingSpans: pending.spans,
        pendingTraces: pending.traces,
        decidedTraces: this.decided(),
        usedMemoryDelta: memory.used - this.baselineBytes,
        transitBytes: memory.transit,
      };
      if (sample.pendingSpans > (this.highWater?.pendingSpans ?? 0)) this.highWater = sample;
      if (sample.decidedTraces === 0 && sample.pendingSpans > (this.beforeDecisions?.pendingSpans ?? 0)) this.beforeDecisions = sample;
    } catch {
      // A missed sample only makes the high-water mark less exact; the run itself goes on.
    }
  }
}

/** Memory figures once Redis has no lazily freed objects left to release. */
async function settledMemory(redis: Redis): Promise<MemoryInfo> {
  for (let i = 0; i < 500; i++) {
    const memory = await memoryInfo(redis);
    if (memory.lazyfreePending === 0) return memory;
    await sleep(10);
  }
  throw new Error('Redis kept freeing objects in the background; no memory baseline');
}

/** Deletes every key under `prefix` (a finished run's decisions and envelopes). */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}
