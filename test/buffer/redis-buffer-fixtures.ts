import { Redis } from 'ioredis';
import { afterAll, afterEach } from 'vitest';
import { RedisTraceBuffer, type RedisTraceBufferOptions } from '../../src/buffer/redis/redis-trace-buffer.js';
import type { CompletionSettings } from '../../src/buffer/trace-buffer.js';
import { localServices, uniquePrefix } from '../support/services.js';

/**
 * Redis trace buffers for tests: each test's buffers share a fresh random key prefix, and
 * after the test the buffers are closed and every key under the prefix is deleted.
 */
export interface RedisBufferFixture {
  /** The Redis the buffers use; an admin connection for inspecting keys. */
  admin(): Promise<Redis>;
  redisUrl(): Promise<string>;
  /** The current test's prefix (a new one per test). */
  prefix(): string;
  make(settings: CompletionSettings, options?: Partial<RedisTraceBufferOptions>): Promise<RedisTraceBuffer>;
}

export function useRedisBuffers(tag: string): RedisBufferFixture {
  let admin: Redis | undefined;
  let url: string | undefined;
  let prefix: string | undefined;
  const open: RedisTraceBuffer[] = [];
  const prefixes = new Set<string>();

  const fixture: RedisBufferFixture = {
    async redisUrl() {
      url ??= (await localServices()).redisUrl;
      return url;
    },
    async admin() {
      admin ??= new Redis(await fixture.redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
      if (admin.status === 'wait') await admin.connect();
      return admin;
    },
    prefix() {
      prefix ??= uniquePrefix(tag);
      prefixes.add(prefix);
      return prefix;
    },
    async make(settings, options = {}) {
      const buffer = await RedisTraceBuffer.connect({
        url: await fixture.redisUrl(),
        prefix: fixture.prefix(),
        settings,
        ...options,
      });
      if (options.prefix !== undefined) prefixes.add(options.prefix);
      open.push(buffer);
      return buffer;
    },
  };

  afterEach(async () => {
    await Promise.all(open.splice(0).map((b) => b.close()));
    for (const p of prefixes) await deleteKeys(await fixture.admin(), p);
    prefixes.clear();
    prefix = undefined;
  });
  afterAll(async () => {
    await admin?.quit();
  });
  return fixture;
}

/** Every key under `prefix:`. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
}
