import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/buffer/redis/redis-keys.js';
import { RedisTraceBuffer, type RedisDueTrace } from '../../src/buffer/redis/redis-trace-buffer.js';
import type { CompletionSettings } from '../../src/buffer/trace-buffer.js';
import { ConfigError, TailsiftError } from '../../src/errors.js';
import { decodeProtobufRequest } from '../../src/otlp/decode-protobuf.js';
import type { TraceFragment } from '../../src/otlp/types.js';
import { uniquePrefix } from '../support/services.js';
import { contractSettings, describeTraceBufferContract, fragment, traceId } from './trace-buffer-contract.js';
import { keysUnder, useRedisBuffers } from './redis-buffer-fixtures.js';
import { sdkRequests } from './redis-otlp-requests.js';
import { startTestRedisServer, type TestRedisServer } from './redis-test-server.js';

const redis = useRedisBuffers('redis-buffer');

describeTraceBufferContract('redis', (settings) => redis.make(settings));

const T0 = 1_700_000_000_000;
const roomy: CompletionSettings = { ...contractSettings, maxTraces: 10_000, sampledCacheSize: 1_000, nonSampledCacheSize: 1_000 };
const keep = { keep: true, policy: 'errors' } as const;

/** Polls `attempt` until it returns a value; bounded, so a broken lease cannot hang the run. */
async function eventually<T>(attempt: () => Promise<T | undefined>, what: string, limitMs = 10_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up waiting: ${what}`);
    await sleep(25);
  }
}

function sdkFragments(traces: number): TraceFragment[] {
  return sdkRequests({ traces }).flatMap((request) => {
    const decoded = decodeProtobufRequest(request);
    if (!decoded.ok) throw decoded.error;
    return [...decoded.value.fragments];
  });
}

describe('redis buffer: several instances on one prefix', () => {
  it('gives every due trace to exactly one of two instances claiming at once', async () => {
    const a = await redis.make(roomy, { instanceId: 'a' });
    const b = await redis.make(roomy, { instanceId: 'b' });
    const ids = Array.from({ length: 200 }, (_, i) => traceId(i + 1));
    await a.append(ids.slice(0, 100).map((id) => fragment(id)), T0);
    await b.append(ids.slice(100).map((id) => fragment(id)), T0);

    const seen: string[] = [];
    for (let round = 0; round < 10; round++) {
      const [fromA, fromB] = await Promise.all([a.claimDue(T0 + 10_000, 30), b.claimDue(T0 + 10_000, 30)]);
      seen.push(...fromA.map((d) => d.traceId), ...fromB.map((d) => d.traceId));
      expect(fromA.length + fromB.length).toBeGreaterThan(0);
      if (seen.length === ids.length) break;
    }
    expect(seen.slice().sort()).toEqual(ids);
    expect(await a.claimDue(T0 + 10_000, 500)).toEqual([]);
  });

  it('lets another instance retake a trace whose lease expired; the first holder then learns it lost the lease', async () => {
    const a = await redis.make(roomy, { instanceId: 'a', leaseMs: 300 });
    const b = await redis.make(roomy, { instanceId: 'b', leaseMs: 60_000 });
    await a.append([fragment(traceId(1)), fragment(traceId(2))], T0);
    const heldByA = await a.claimDue(T0 + 10_000, 10);
    expect(heldByA.map((d) => d.traceId).sort()).toEqual([traceId(1), traceId(2)]);
    expect(await b.claimDue(T0 + 10_000, 10)).toEqual([]);

    // A stalls past its lease; B, polling like a decision loop, retakes both. The two traces
    // may sit in different buckets whose leases were set a moment apart, so one poll can
    // find one of them expired and the next the other.
    const retaken: RedisDueTrace[] = [];
    await eventually(async () => {
      retaken.push(...(await b.claimDue(T0 + 10_000, 10)));
      return retaken.length >= 2 ? retaken : undefined;
    }, 'B retakes the expired claims');
    expect(retaken.map((d) => d.traceId).sort()).toEqual([traceId(1), traceId(2)]);
    const byId = new Map(retaken.map((d) => [d.traceId, d]));
    const [one, two] = [heldByA.find((d) => d.traceId === traceId(1)), heldByA.find((d) => d.traceId === traceId(2))] as RedisDueTrace[];

    // Trace 1: B still holds it when A finishes. Trace 2: B decided it first.
    expect(await b.completeClaim(byId.get(traceId(2)) as RedisDueTrace, { keep: false, policy: 'b' }, T0)).toEqual({ status: 'completed', late: [] });
    const lostWhileHeld = await a.completeClaim(one, keep, T0 + 10_001);
    const lostAfterDecided = await a.completeClaim(two, keep, T0 + 10_001);
    for (const outcome of [lostWhileHeld, lostAfterDecided]) {
      expect(outcome.status).toBe('lease-lost');
      if (outcome.status === 'lease-lost') {
        expect(outcome.error.code).toBe('BUFFER_LEASE_LOST');
        expect(outcome.error.retriable).toBe(false);
      }
    }
    expect((await a.releaseClaim(one, T0 + 20_000)).status).toBe('lease-lost');
    expect(a.counters.leasesLost).toBe(3);

    // A's failed calls changed nothing: B completes trace 1 and trace 2 keeps B's decision.
    expect((await b.completeClaim(byId.get(traceId(1)) as RedisDueTrace, keep, T0 + 10_002)).status).toBe('completed');
    const late = await a.append([fragment(traceId(2))], T0 + 10_003);
    expect(late.status === 'accepted' && late.late.map((l) => l.decision)).toEqual([{ keep: false, policy: 'b' }]);
    expect(await a.pending()).toEqual({ traces: 0, spans: 0 });
  });

  it('claims the oldest due traces across buckets when more are due than one call takes', async () => {
    const b = await redis.make(roomy, { buckets: 8 });
    const n = 300;
    // Due times in a scrambled order so that every bucket holds old and new ones.
    const order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    for (const i of order) await b.append([fragment(traceId(i + 1))], T0 + i);
    const claimedDue: number[] = [];
    for (;;) {
      const due = await b.claimDue(T0 + 20_000, 100);
      if (due.length === 0) break;
      expect(due.length).toBeLessThanOrEqual(100);
      const dues = due.map((d) => d.dueMs);
      expect(dues).toEqual(dues.slice().sort((x, y) => x - y));
      // Nothing still unclaimed is older than what this call got.
      const next = await b.nextDueMs();
      if (next !== undefined) expect(next).toBeGreaterThanOrEqual(dues[dues.length - 1]);
      claimedDue.push(...dues);
    }
    expect(claimedDue).toEqual(Array.from({ length: n }, (_, i) => T0 + i + 10_000));
  });
});

describe('redis buffer: keys and expiry', () => {
  it('keeps each trace and its indexes under one bucket hash tag', async () => {
    const b = await redis.make(roomy, { buckets: 16 });
    const fragments = sdkFragments(12);
    await b.append(fragments, T0);
    const due = await b.claimDue(T0 + 10_000, 4);
    await b.complete(due[0], keep, T0 + 10_000);

    const prefix = redis.prefix();
    const keys = await keysUnder(await redis.admin(), prefix);
    // The format marker, one per prefix, belongs to no bucket.
    expect(keys).toContain(`${prefix}:format`);
    const tagged = keys.filter((k) => !k.startsWith(`${prefix}:e:`) && k !== `${prefix}:format`);
    const tagOf = (key: string): string | undefined => /\{([^}]*)\}/.exec(key)?.[1];
    for (const key of tagged) expect(tagOf(key), key).toBeDefined();
    const layout = new RedisKeys(prefix, 16);
    const bucketTags = new Set(layout.buckets.map((bucket) => tagOf(bucket.due)));
    for (const key of tagged.filter((k) => !k.startsWith(`${prefix}:{decisions}`))) expect(bucketTags, key).toContain(tagOf(key));
    const decided = await (await redis.admin()).hkeys(layout.decisions(layout.bucketOf(due[0].traceId)));
    expect(decided).toEqual([due[0].traceId]);
    for (const id of new Set(fragments.map((f) => f.traceId))) {
      const own = tagged.filter((k) => k.endsWith(`:${id}`));
      // A decided trace leaves only its entry in its bucket's decisions hash, checked above.
      if (id !== due[0].traceId) expect(own.length).toBeGreaterThan(0);
      // The trace's keys carry its bucket's tag, the one of the bucket's indexes.
      for (const key of own) expect(tagOf(key)).toBe(tagOf(layout.bucketOf(id).due));
    }
    expect(tagged.some((k) => k.endsWith(':due'))).toBe(true);
    expect(tagged.some((k) => k.endsWith(':claims'))).toBe(true);
    // Envelopes are shared, untagged, and expire.
    const envelopes = keys.filter((k) => k.startsWith(`${prefix}:e:`));
    expect(envelopes.length).toBeGreaterThan(0);
    for (const key of envelopes) expect(await (await redis.admin()).pttl(key)).toBeGreaterThan(0);
  });

  it('forgets a decision older than the TTL while newer decisions keep its bucket alive', async () => {
    const b = await redis.make(roomy, { decisionCacheTtlMs: 500, buckets: 1 });
    const decide = async (n: number): Promise<void> => {
      await b.append([fragment(traceId(n))], T0);
      for (const d of await b.claimDue(T0 + 10_000, 10)) await b.complete(d, keep, T0 + 10_000);
    };
    await decide(1);
    await sleep(300);
    await decide(2);
    await sleep(300);
    // Trace 1 was decided over 500 ms ago; recording trace 3 forgets it.
    await decide(3);
    const out = await b.append([fragment(traceId(1)), fragment(traceId(3))], T0 + 10_001);
    if (out.status !== 'accepted') throw new Error('expected accepted');
    expect(out.late.map((l) => l.fragment.traceId)).toEqual([traceId(3)]);
    expect((await b.pending()).traces).toBe(1);
  });

  it('forgets decisions after their TTL, and leaves nothing but expiring envelopes and the format marker once all is decided', async () => {
    const b = await redis.make(roomy, { decisionCacheTtlMs: 300 });
    const fragments = sdkFragments(8);
    const ids = [...new Set(fragments.map((f) => f.traceId))];
    await b.append(fragments, T0);
    for (const d of await b.claimDue(T0 + 10_000, 100)) await b.complete(d, keep, T0 + 10_000);
    expect(await b.pending()).toEqual({ traces: 0, spans: 0 });

    const admin = await redis.admin();
    const prefix = redis.prefix();
    // One decisions hash per bucket, holding every decided trace, expiring within the TTL.
    const decisionKeys = (await keysUnder(admin, prefix)).filter((k) => /\}:d$/.test(k));
    const decided: string[] = [];
    for (const key of decisionKeys) {
      decided.push(...(await admin.hkeys(key)));
      const ttl = await admin.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
    }
    expect(decided.sort()).toEqual([...ids].sort());
    const late = await b.append([fragments[0]], T0 + 10_001);
    expect(late.status === 'accepted' && late.late.length).toBe(1);

    const formatKey = `${prefix}:format`;
    const expiring = async (): Promise<string[]> => (await keysUnder(admin, prefix)).filter((k) => k !== formatKey);
    await eventually(async () => ((await expiring()).some((k) => !k.startsWith(`${prefix}:e:`)) ? undefined : true), 'decision keys expire');
    // Besides the prefix's format marker, only envelopes, and they expire.
    expect(await admin.get(formatKey)).not.toBeNull();
    const left = await expiring();
    expect(left.length).toBeGreaterThan(0);
    for (const key of left) {
      expect(key.startsWith(`${prefix}:e:`)).toBe(true);
      expect(await admin.pttl(key)).toBeGreaterThan(0);
    }
    // Forgotten: a span of a decided trace now starts a new trace.
    const again = await b.append([fragments[0]], T0 + 20_000);
    expect(again.status === 'accepted' && again.late).toEqual([]);
    expect((await b.pending()).traces).toBe(1);
  });

  it('keeps sub-millisecond times exactly', async () => {
    const b = await redis.make(roomy);
    await b.append([fragment(traceId(1))], T0 + 0.125);
    expect(await b.nextDueMs()).toBe(T0 + 10_000.125);
    const [d] = await b.claimDue(T0 + 10_000.125, 1);
    expect([d.firstSeenMs, d.dueMs]).toEqual([T0 + 0.125, T0 + 10_000.125]);
  });
});

describe('redis buffer: fragments', () => {
  it('hands back SDK-serialized fragments byte for byte, also to an instance that never saw them', async () => {
    const writer = await redis.make(roomy);
    const reader = await redis.make(roomy);
    const fragments = sdkFragments(12);
    const expected = new Map<string, Uint8Array[]>();
    for (const f of fragments) expected.set(f.traceId, [...(expected.get(f.traceId) ?? []), f.bytes]);
    // Several requests, as they arrive; the same resources repeat in each.
    for (let i = 0; i < fragments.length; i += 5) await writer.append(fragments.slice(i, i + 5), T0);

    const claimedByWriter = await writer.claimDue(T0 + 10_000, 6);
    await writer.release(claimedByWriter[0], T0 + 10_000);
    const claimed = [...claimedByWriter.slice(1), ...(await reader.claimDue(T0 + 10_000, 100))];
    expect(claimed.map((d) => d.traceId).sort()).toEqual([...expected.keys()].sort());
    for (const d of claimed) {
      const want = expected.get(d.traceId) as Uint8Array[];
      expect(d.fragments.map((f) => Buffer.from(f.bytes).toString('hex'))).toEqual(want.map((f) => Buffer.from(f).toString('hex')));
    }
    expect(reader.counters.envelopesMissing).toBe(0);
  });

  it('stores fragments with their envelopes split off in far less memory than as they came', async () => {
    const compact = await redis.make(roomy);
    const asTheyCame = await redis.make(roomy, { prefix: `${redis.prefix()}-raw`, compactFragments: false });
    const admin = await redis.admin();
    const memory = async (prefix: string): Promise<number> => {
      let sum = 0;
      for (const key of await keysUnder(admin, prefix)) sum += Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      return sum;
    };
    for (const request of sdkRequests({ traces: 60 })) {
      const decoded = decodeProtobufRequest(request);
      if (!decoded.ok) throw decoded.error;
      await compact.append(decoded.value.fragments, T0);
      await asTheyCame.append(decoded.value.fragments, T0);
    }
    expect(await compact.pending()).toEqual(await asTheyCame.pending());
    // Every key of each buffer, indexes and envelopes included.
    expect(await memory(redis.prefix())).toBeLessThan(0.6 * (await memory(`${redis.prefix()}-raw`)));
  });
});

describe('redis buffer: one key per trace', () => {
  it('takes a call holding several fragments of new, claimed and decided traces in order', async () => {
    // A claim token may hold the meta's separator: it is the meta's last field.
    const b = await redis.make(roomy, { instanceId: 'host|7' });
    await b.append([fragment(traceId(2)), fragment(traceId(3))], T0);
    const claimed = new Map((await b.claimDue(T0 + 10_000, 10)).map((d) => [d.traceId, d]));
    await b.complete(claimed.get(traceId(3)) as RedisDueTrace, keep, T0 + 10_000);

    const call = [
      fragment(traceId(1)),
      fragment(traceId(2)),
      fragment(traceId(3)),
      fragment(traceId(1), 97),
      fragment(traceId(2), 2),
      fragment(traceId(1), 2, true),
    ];
    const out = await b.append(call, T0 + 10_005);
    if (out.status !== 'accepted') throw new Error('expected accepted');
    expect(out.late.map((l) => [l.fragment, l.decision])).toEqual([[call[2], keep]]);
    expect(await b.pending()).toEqual({ traces: 2, spans: 104 });

    const keys = await keysUnder(await redis.admin(), redis.prefix());
    expect(keys.filter((k) => k.endsWith(traceId(1)))).toEqual([`${new RedisKeys(redis.prefix(), 64).bucketOf(traceId(1)).base}t:${traceId(1)}`]);

    // Trace 1 reached the span limit within the call: due at once, its fragments in order.
    const [one, ...more] = await b.claimDue(T0 + 10_005, 10);
    expect(more).toEqual([]);
    expect([one.traceId, one.spanCount, one.firstSeenMs, one.dueMs]).toEqual([traceId(1), 100, T0 + 10_005, T0 + 10_005]);
    const bytesOf = (fragments: readonly { bytes: Uint8Array }[]): number[][] => fragments.map((f) => Array.from(f.bytes));
    expect(bytesOf(one.fragments)).toEqual(bytesOf([call[0], call[3], call[5]]));
    // Trace 2 stayed claimed; what it gained meanwhile comes back with its decision.
    const late = await b.completeClaim(claimed.get(traceId(2)) as RedisDueTrace, keep, T0 + 10_006);
    expect(late.status === 'completed' && late.late.map((x) => Array.from(x))).toEqual(bytesOf([call[1], call[4]]));
    expect((await b.releaseClaim(one, T0 + 20_000)).status).toBe('released');
    expect(await b.pending()).toEqual({ traces: 1, spans: 100 });
    expect(await b.nextDueMs()).toBe(T0 + 20_000);
  });
});

describe('redis buffer: upgrades', () => {
  /** A trace as the layout before the format marker kept it: a meta hash beside its fragments list. */
  async function bufferTraceInFormerLayout(prefix: string, id: string): Promise<string[]> {
    const admin = await redis.admin();
    const bucket = new RedisKeys(prefix, 64).bucketOf(id);
    await admin.hset(`${bucket.base}m:${id}`, 'first', T0, 'due', T0 + 10_000, 'spans', 1, 'bytes', 3);
    await admin.rpush(`${bucket.base}f:${id}`, Buffer.from([0, 1, 2]));
    await admin.zadd(bucket.due, T0 + 10_000, id);
    await admin.hset(bucket.counts, 'traces', 1, 'spans', 1);
    return [`${bucket.base}m:${id}`, `${bucket.base}f:${id}`, bucket.due, bucket.counts];
  }

  it('refuses to start on traces buffered in the former layout, touching nothing, and starts once they are drained', async () => {
    const prefix = redis.prefix();
    const admin = await redis.admin();
    const former = await bufferTraceInFormerLayout(prefix, traceId(1));

    const err = await redis.make(roomy).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TailsiftError);
    expect((err as TailsiftError).code).toBe('BUFFER_FORMAT_MISMATCH');
    expect((err as TailsiftError).retriable).toBe(false);
    expect((err as Error).message).toContain(`prefix "${prefix}" holds 1 undecided traces`);
    expect((err as Error).message).toMatch(/run it until its buffer is empty.*new buffer\.prefix/);
    expect(await admin.exists(...former)).toBe(former.length);
    expect(await admin.exists(`${prefix}:format`)).toBe(0);

    // The earlier version decided the trace: its keys are gone, and this version takes over.
    await admin.del(...former);
    const b = await redis.make(roomy);
    expect(await admin.get(`${prefix}:format`)).toBe('2');
    await b.append([fragment(traceId(1))], T0);
    expect(await b.pending()).toEqual({ traces: 1, spans: 1 });
  });

  it('starts on a prefix it marked, with traces buffered', async () => {
    const a = await redis.make(roomy);
    await a.append([fragment(traceId(1)), fragment(traceId(2), 2)], T0);
    const b = await redis.make(roomy);
    expect(await b.pending()).toEqual({ traces: 2, spans: 3 });
    expect((await b.claimDue(T0 + 10_000, 10)).map((d) => d.traceId).sort()).toEqual([traceId(1), traceId(2)]);
  });

  it('refuses a prefix marked with another format, even when empty', async () => {
    const prefix = redis.prefix();
    await (await redis.admin()).set(`${prefix}:format`, '3');
    const err = await redis.make(roomy).catch((e: unknown) => e);
    expect((err as TailsiftError).code).toBe('BUFFER_FORMAT_MISMATCH');
    expect((err as Error).message).toContain(`prefix "${prefix}" are in buffer format "3", this version reads format 2`);
  });
});

describe('redis buffer: failures', () => {
  let server: TestRedisServer;
  beforeAll(async () => {
    server = await startTestRedisServer();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('rejects with a retriable BUFFER_UNAVAILABLE while Redis is down, then works again with nothing lost', async () => {
    const b = await RedisTraceBuffer.connect({ url: server.url, prefix: uniquePrefix('outage'), settings: roomy });
    try {
      await b.append([fragment(traceId(1))], T0);
      await server.stop({ save: true });
      for (const operation of [() => b.append([fragment(traceId(2))], T0), () => b.claimDue(T0 + 10_000, 10), () => b.pending()]) {
        const err = await operation().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(TailsiftError);
        expect((err as TailsiftError).code).toBe('BUFFER_UNAVAILABLE');
        expect((err as TailsiftError).retriable).toBe(true);
      }
      await server.start();
      // ioredis reconnects by itself; the trace buffered before the outage is still there.
      const pending = await eventually(() => b.pending().catch(() => undefined), 'the buffer reconnects');
      expect(pending).toEqual({ traces: 1, spans: 1 });
      expect((await b.claimDue(T0 + 10_000, 10)).map((d) => d.traceId)).toEqual([traceId(1)]);
    } finally {
      await b.close();
      await b.close();
    }
  });

  it('fails to connect with a retriable error when Redis is not there', async () => {
    const err = await RedisTraceBuffer.connect({ url: 'redis://127.0.0.1:1', prefix: 'x', settings: roomy }).catch((e: unknown) => e);
    expect((err as TailsiftError).code).toBe('BUFFER_UNAVAILABLE');
    expect((err as TailsiftError).retriable).toBe(true);
  });

  it('refuses options that would break the key layout', async () => {
    const err = await RedisTraceBuffer.connect({ url: server.url, prefix: 'a{b}', buckets: 0, settings: roomy }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([expect.stringMatching(/prefix "a\{b\}"/), expect.stringMatching(/buckets 0/)]);
  });
});

describe('redis buffer: on a Redis Cluster node', () => {
  let node: TestRedisServer;
  beforeAll(async () => {
    node = await startTestRedisServer({ cluster: true });
  });
  afterAll(async () => {
    await node?.dispose();
  });

  it('runs every operation without touching two hash slots in one script', async () => {
    // A one-node cluster serving every slot still refuses scripts and commands that cross slots.
    const settings = { ...roomy, maxTraces: 8, sampledCacheSize: 2, nonSampledCacheSize: 2 };
    const b = await RedisTraceBuffer.connect({ url: node.url, prefix: 'cluster', settings, buckets: 16 });
    try {
      const fragments = sdkFragments(8);
      expect((await b.append(fragments, T0)).status).toBe('accepted');
      expect((await b.append([fragment(traceId(1))], T0)).status).toBe('full');
      const due = await b.claimDue(T0 + 10_000, 100);
      expect(due).toHaveLength(8);
      await b.release(due[0], T0 + 10_000);
      for (const d of due.slice(1)) expect((await b.completeClaim(d, keep, T0 + 10_000)).status).toBe('completed');
      expect(await b.nextDueMs()).toBe(T0 + 10_000);

      const admin = new Redis(node.url);
      try {
        const keys = await keysUnder(admin, 'cluster');
        const slotOf = async (key: string): Promise<number> => Number(await admin.call('CLUSTER', 'KEYSLOT', key));
        // The released trace's key, and the decisions hashes, each beside its bucket's indexes.
        const traceKeys = keys.filter((k) => /:t:[0-9a-f]{32}$/.test(k));
        expect(traceKeys).toHaveLength(1);
        for (const key of [...traceKeys, ...keys.filter((k) => /\}:d$/.test(k))]) {
          const base = key.replace(/(t:[0-9a-f]{32}|d)$/, '');
          expect(await slotOf(key), key).toBe(await slotOf(`${base}due`));
        }
      } finally {
        admin.disconnect();
      }
    } finally {
      await b.close();
    }
  });
});
