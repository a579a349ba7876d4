import { redisConnectionOptions, type RedisTlsFiles } from '../../buffer/redis/redis-trace-buffer.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { callLuaScript, defineLuaScripts, loadLuaScripts, scriptOf, type LuaScript } from '../../baselines/redis/lua-scripts.js';
import { silentLogger, type Logger } from '../../telemetry/logger.js';
import { EXEMPLARS_KEPT, type AlertState } from '../alert-state.js';
import type { IncidentState } from '../incident-tracker.js';

/**
 * Alerting shared through Redis. Keys carry hash tags, one slot each:
 *
 *   `<prefix>:al:{lead}`            STRING  token of the instance evaluating incidents (TTL = lease)
 *   `<prefix>:al:{incidents}`       HASH    subject key -> IncidentState JSON
 *   `<prefix>:al:{ex}:<subject>`    LIST    exemplar trace ids, newest first (capped, TTL)
 */
export interface RedisAlertStateOptions {
  readonly url?: string;
  /** TLS files for the connection `url` opens (as the buffer's `tls`). */
  readonly tls?: RedisTlsFiles;
  /** An open connection to use instead of `url`; its owner closes it. */
  readonly redis?: Redis;
  readonly prefix: string;
  readonly leaseMs: number;
  /** How long exemplars of a subject are kept after the last one was added. Default 1 hour. */
  readonly exemplarTtlMs?: number;
  readonly logger?: Logger;
}

export class RedisAlertState implements AlertState {
  /** Exemplar writes that failed (they are best effort: a notification just names fewer traces). */
  exemplarWriteFailures = 0;
  private readonly token = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly leadKey: string;
  private readonly incidentsKey: string;
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly ownsConnection: boolean,
    private readonly scripts: ReadonlyMap<string, LuaScript>,
    private readonly options: RedisAlertStateOptions,
  ) {
    this.leadKey = `${options.prefix}:al:{lead}`;
    this.incidentsKey = `${options.prefix}:al:{incidents}`;
  }

  static async connect(options: RedisAlertStateOptions): Promise<RedisAlertState> {
    const scripts = await loadLuaScripts(import.meta.url, 'src/alerts/redis/scripts', 'tailsiftAl', ['hold-lease', 'release-lease']);
    const owns = options.redis === undefined;
    const redis = options.redis ?? new Redis(options.url ?? 'redis://127.0.0.1:6379', redisConnectionOptions(options.tls, 'baselines.store.tls'));
    if (owns) {
      redis.on('error', () => undefined);
      await redis.connect();
    }
    defineLuaScripts(redis, scripts);
    return new RedisAlertState(redis, owns, scripts, options);
  }

  async lead(_nowMs: number): Promise<boolean> {
    if (this.closed) return false;
    const held = await callLuaScript(this.redis, scriptOf(this.scripts, 'hold-lease'), [this.leadKey], [this.token, Math.round(this.options.leaseMs)]);
    return Number(held) === 1;
  }

  async incidents(): Promise<Map<string, IncidentState>> {
    const hash = await this.redis.hgetall(this.incidentsKey);
    const states = new Map<string, IncidentState>();
    for (const [key, json] of Object.entries(hash)) {
      try {
        states.set(key, JSON.parse(json) as IncidentState);
      } catch {
        (this.options.logger ?? silentLogger).warn({ key }, 'alerts: unreadable incident state in Redis; ignored');
      }
    }
    return states;
  }

  async saveIncidents(changed: readonly IncidentState[], removed: readonly string[]): Promise<void> {
    if (changed.length === 0 && removed.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const state of changed) pipeline.hset(this.incidentsKey, state.key, JSON.stringify(state));
    if (removed.length > 0) pipeline.hdel(this.incidentsKey, ...removed);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err !== null);
    if (failed !== undefined) throw failed[0];
  }

  addExemplar(key: string, traceId: string): void {
    if (this.closed) return;
    const list = this.exemplarKey(key);
    this.redis
      .pipeline()
      .lpush(list, traceId)
      .ltrim(list, 0, EXEMPLARS_KEPT - 1)
      .pexpire(list, this.options.exemplarTtlMs ?? 3_600_000)
      .exec()
      .then(
        (results) => {
          if (results === null || results.some(([err]) => err !== null)) this.exemplarWriteFailures += 1;
        },
        () => {
          this.exemplarWriteFailures += 1;
        },
      );
  }

  async exemplars(key: string, max: number): Promise<string[]> {
    if (max <= 0) return [];
    const ids = await this.redis.lrange(this.exemplarKey(key), 0, EXEMPLARS_KEPT - 1);
    return [...new Set(ids)].slice(0, max);
  }

  async clearExemplars(key: string): Promise<void> {
    await this.redis.del(this.exemplarKey(key));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await callLuaScript(this.redis, scriptOf(this.scripts, 'release-lease'), [this.leadKey], [this.token]).catch(() => undefined);
    if (this.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private exemplarKey(subject: string): string {
    return `${this.options.prefix}:al:{ex}:${subject}`;
  }
}
