import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import { ConfigError, type TailsiftError } from '../../errors.js';
import type { TraceFragment } from '../../otlp/types.js';
import { silentLogger, type Logger } from '../../telemetry/logger.js';
import type {
  AppendOutcome,
  CompletedTrace,
  CompletionSettings,
  DueTrace,
  LateFragment,
  PendingCounts,
  RecordedDecision,
  TraceBuffer,
} from '../trace-buffer.js';
import { BucketCounts } from './bucket-counts.js';
import { decodeDecision, encodeDecision } from './decision-codec.js';
import { EnvelopeCache } from './envelope-cache.js';
import { compactFragment, compactLayout, rawRecord, rebuildFragment, referencedDigests, type Envelope } from './fragment-envelopes.js';
import { BUFFER_FORMAT_MISMATCH, RedisBufferError, redisFailure, scriptError, ScriptCode } from './redis-buffer-errors.js';
import { BUFFER_FORMAT, MAX_BUCKETS, RedisKeys, type BucketKeys } from './redis-keys.js';
import {
  defineBufferScripts,
  loadBufferScripts,
  queueScript,
  scriptOf,
  type BufferScript,
  type ScriptArg,
  type ScriptVerb,
} from './redis-scripts.js';
import { tlsConnectionOptions, type TlsFiles } from '../../config/tls-files.js';

/** TLS to Redis: PEM files to trust and to present (a client certificate for `tls-auth-clients yes`), read when the buffer connects. */
export type RedisTlsFiles = TlsFiles;

export interface RedisTraceBufferOptions {
  /**
   * Redis server URL, `redis://[user:password@]host:port[/db]` or `rediss://` for TLS; the
   * buffer opens and closes its own connection.
   */
  readonly url?: string;
  /** TLS settings for the connection `url` opens; giving them turns TLS on even with `redis://`. */
  readonly tls?: RedisTlsFiles;
  /**
   * An open connection to use instead of `url`. The buffer registers its scripts on it and
   * leaves closing it to its owner. Give it `enableOfflineQueue: false` and
   * `maxRetriesPerRequest: 0` so that operations fail fast while Redis is down.
   */
  readonly redis?: Redis;
  /** Start of every key. Instances sharing traces use the same prefix and bucket count. No braces or spaces. */
  readonly prefix: string;
  /** Buckets, each in one hash slot, that traces are spread over by a hash of their id. Default 64. */
  readonly buckets?: number;
  /** How long a claim holds a trace, ms; past it any instance may claim the trace again. Default 60 000. */
  readonly leaseMs?: number;
  /** How long a decision is remembered for late spans, ms, besides the decision cache's count bounds. Default 600 000. */
  readonly decisionCacheTtlMs?: number;
  readonly settings: CompletionSettings;
  /** Names this instance in claim tokens. Default `<host>:<pid>:<random>`. */
  readonly instanceId?: string;
  /**
   * How long an envelope (a Resource or scope stored once for many fragments) stays without
   * being used, ms. A trace waiting longer than this unclaimed would lose its Resource, so it is
   * far above any decision wait. Default 86 400 000 (a day).
   */
  readonly envelopeTtlMs?: number;
  /** Envelopes kept in this process, most recently used. Default 10 000. */
  readonly envelopeCacheSize?: number;
  /** Store fragments with their envelopes split off (default true); false stores them as they came. */
  readonly compactFragments?: boolean;
  readonly logger?: Logger;
  /**
   * Called after every round trip to Redis with the operation (`append`, `claimDue`,
   * `complete`, ...) and its duration in seconds, failed ones included (a metric). Unset costs nothing.
   */
  readonly onRoundTrip?: (operation: string, seconds: number) => void;
}

/** A trace claimed from the Redis buffer: the claim token proves the lease on complete and release. */
export interface RedisDueTrace extends DueTrace {
  readonly claimToken: string;
}

export type CompleteOutcome =
  | { readonly status: 'completed'; readonly late: Uint8Array[] }
  | { readonly status: 'lease-lost'; readonly error: TailsiftError };

export type ReleaseOutcome = { readonly status: 'released' } | { readonly status: 'lease-lost'; readonly error: TailsiftError };

/** What this instance saw go wrong without failing an operation. */
export interface RedisBufferCounters {
  /** complete/release calls whose lease was lost: the trace is decided again elsewhere. */
  leasesLost: number;
  /** Envelopes gone when a fragment was rebuilt: its spans were delivered without their Resource or scope. */
  envelopesMissing: number;
}

const DEFAULTS = {
  buckets: 64,
  leaseMs: 60_000,
  decisionCacheTtlMs: 600_000,
  envelopeTtlMs: 86_400_000,
  envelopeCacheSize: 10_000,
} as const;

/** Retry-After bounds for a full buffer, as the memory buffer's. */
const MIN_RETRY_AFTER_MS = 1_000;
const MAX_RETRY_AFTER_MS = 30_000;
/** How stale the summed bucket counts may get before they are read again in the background. */
const COUNTS_MAX_AGE_MS = 1_000;
/** Expired leases requeued per bucket per claim round; bounds one script run. */
const REQUEUE_PER_BUCKET = 1_000;
/** The decision cache's count bound is trimmed in batches of this share of the bound. */
const DECISION_TRIM_SLACK = 0.01;

/**
 * The production TraceBuffer: pending traces in Redis, shared by any number of instances.
 *
 * Same semantics as the memory buffer (see TraceBuffer). Every state change is one Lua script
 * on one bucket (redis-scripts.ts, scripts/), so it is atomic per trace and works on Redis
 * Cluster; a call that spans buckets sends all its scripts in one pipelined round trip.
 * Claims are leases on the Redis server's clock: a trace whose instance died is claimable
 * again once its lease expires, and the old holder's complete reports the lost lease.
 */
export class RedisTraceBuffer implements TraceBuffer {
  /** Lost leases and missing envelopes seen by this instance. */
  readonly counters: RedisBufferCounters = { leasesLost: 0, envelopesMissing: 0 };
  readonly instanceId: string;
  private readonly keys: RedisKeys;
  private readonly counts: BucketCounts;
  private readonly envelopes: EnvelopeCache;
  private readonly leaseMs: number;
  private readonly decisionTtlMs: number;
  private readonly envelopeTtlMs: number;
  private readonly compact: boolean;
  private readonly logger: Logger;
  private readonly onRoundTrip: ((operation: string, seconds: number) => void) | undefined;
  private claimSeq = 0;
  private countsRefresh: Promise<void> | undefined;
  private closed = false;
  private down = false;

  private constructor(
    private readonly redis: Redis,
    private readonly ownsConnection: boolean,
    private readonly scripts: ReadonlyMap<ScriptVerb, BufferScript>,
    private readonly settings: CompletionSettings,
    options: RedisTraceBufferOptions,
  ) {
    const buckets = options.buckets ?? DEFAULTS.buckets;
    this.keys = new RedisKeys(options.prefix, buckets);
    this.counts = new BucketCounts(buckets);
    this.leaseMs = options.leaseMs ?? DEFAULTS.leaseMs;
    this.decisionTtlMs = options.decisionCacheTtlMs ?? DEFAULTS.decisionCacheTtlMs;
    this.envelopeTtlMs = options.envelopeTtlMs ?? DEFAULTS.envelopeTtlMs;
    this.envelopes = new EnvelopeCache(options.envelopeCacheSize ?? DEFAULTS.envelopeCacheSize, this.envelopeTtlMs);
    this.compact = options.compactFragments ?? true;
    this.logger = options.logger ?? silentLogger;
    this.onRoundTrip = options.onRoundTrip;
    this.instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  /**
   * Connects (or takes `options.redis`), registers the scripts, reads the buffer's counts and
   * checks that the keys under the prefix are in this version's layout (marking a new buffer).
   * Rejects with a retriable `BUFFER_UNAVAILABLE` error when Redis cannot be reached, with
   * `BUFFER_FORMAT_MISMATCH` when an earlier version's traces are still buffered under the
   * prefix, and with a ConfigError for invalid options.
   */
  static async connect(options: RedisTraceBufferOptions): Promise<RedisTraceBuffer> {
    const problems = checkOptions(options);
    if (problems.length > 0) throw new ConfigError(problems);
    const scripts = await loadBufferScripts();
    const owned = options.redis === undefined;
    const redis = options.redis ?? new Redis(options.url as string, redisConnectionOptions(options.tls));
    defineBufferScripts(redis, scripts);
    const buffer = new RedisTraceBuffer(redis, owned, scripts, options.settings, options);
    if (owned) {
      // ioredis rejects a failed connect with "Connection is closed"; the reason (refused
      // credentials, an untrusted certificate) comes as an error event just before.
      let reason: Error | undefined;
      const noteReason = (err: Error): void => {
        reason ??= err;
      };
      redis.on('error', noteReason);
      try {
        await redis.connect();
      } catch (err) {
        // Errors still in flight on the closing socket have nobody else to go to.
        redis.on('error', () => undefined);
        redis.disconnect();
        throw connectFailure(reason ?? err);
      } finally {
        redis.off('error', noteReason);
      }
      // Only now: a start that fails is reported once, by the error above, not as an outage too.
      buffer.watchConnection();
    }
    try {
      await buffer.readAllCounts();
      await buffer.checkFormat();
    } catch (err) {
      if (owned) redis.disconnect();
      throw err;
    }
    return buffer;
  }

  async append(fragments: readonly TraceFragment[], nowMs: number): Promise<AppendOutcome> {
    if (fragments.length === 0) return { status: 'accepted', late: [] };
    const full = await this.refuseWhenFull(fragments, nowMs);
    if (full !== undefined) return full;

    const byBucket = new Map<BucketKeys, number[]>();
    for (let i = 0; i < fragments.length; i++) {
      const bucket = this.keys.bucketOf(fragments[i].traceId);
      const list = byBucket.get(bucket);
      if (list === undefined) byBucket.set(bucket, [i]);
      else list.push(i);
    }

    const wallMs = performance.now();
    const records: Buffer[] = new Array(fragments.length);
    const envelopeWrites = new Map<string, Envelope>();
    for (let i = 0; i < fragments.length; i++) {
      if (!this.compact) {
        records[i] = rawRecord(fragments[i].bytes);
        continue;
      }
      const f = fragments[i];
      // A fragment split from a request is compacted from where its parts lie, never written whole.
      const { record, envelopes } = f.layout === undefined ? compactFragment(f.bytes, f.traceId) : compactLayout(f.layout, f.traceId);
      records[i] = record;
      for (const e of envelopes) {
        if (!envelopeWrites.has(e.digest) && this.envelopes.needsStore(e.digest, wallMs)) envelopeWrites.set(e.digest, e);
      }
    }

    const pipeline = this.redis.pipeline();
    // Envelopes go first: no fragment is stored before the envelopes it refers to.
    for (const e of envelopeWrites.values()) pipeline.set(this.keys.envelope(e.digest), asBuffer(e.bytes), 'PX', this.envelopeTtlMs);
    const s = this.settings;
    const head: ScriptArg[] = [
      String(nowMs),
      String(nowMs + s.decisionWaitMs),
      s.decisionWaitAfterRootMs === undefined ? '' : String(nowMs + s.decisionWaitAfterRootMs),
      String(s.maxSpansPerTrace),
      s.maxTraceBytes === undefined ? '' : String(s.maxTraceBytes),
    ];
    const buckets = [...byBucket.entries()];
    for (const [bucket, indexes] of buckets) {
      const args = head.slice();
      for (const i of indexes) {
        const f = fragments[i];
        args.push(f.traceId, String(f.spanCount), f.hasRoot ? '1' : '0', records[i], String(f.byteLength));
      }
      queueScript(pipeline, this.script('append'), [bucket.due, bucket.counts], args);
    }
    const replies = await this.exec(pipeline, 'append');

    for (const e of envelopeWrites.values()) this.envelopes.stored(e.digest, e.bytes, wallMs);
    const late: { index: number; decision: RecordedDecision }[] = [];
    buckets.forEach(([bucket, indexes], b) => {
      const reply = replies[envelopeWrites.size + b] as (number | Buffer)[];
      this.counts.set(bucket.index, reply[0] as number, reply[1] as number);
      for (let j = 2; j < reply.length; j += 2) {
        late.push({ index: indexes[reply[j] as number], decision: decodeDecision((reply[j + 1] as Buffer).toString()) });
      }
    });
    late.sort((a, b) => a.index - b.index);
    const out: LateFragment[] = late.map((l) => ({ fragment: fragments[l.index], decision: l.decision }));
    return { status: 'accepted', late: out };
  }

  /**
   * The "buffer full" answer, decided before anything is written so that a call is taken
   * whole or refused whole. The summed counts are a slightly stale view; only when the call
   * could cross the bound are the call's traces looked up, to count those really new.
   */
  private async refuseWhenFull(fragments: readonly TraceFragment[], nowMs: number): Promise<AppendOutcome | undefined> {
    if (this.counts.isStale(performance.now(), COUNTS_MAX_AGE_MS)) this.refreshCountsInBackground();
    const ids = [...new Set(fragments.map((f) => f.traceId))];
    const max = this.settings.maxTraces;
    if (this.counts.pendingTraces + ids.length <= max) return undefined;

    const pipeline = this.redis.pipeline();
    for (const id of ids) {
      const bucket = this.keys.bucketOf(id);
      pipeline.exists(this.keys.trace(bucket, id));
      pipeline.hexists(this.keys.decisions(bucket), id);
    }
    for (const bucket of this.keys.buckets) {
      pipeline.hmget(bucket.counts, 'traces', 'spans');
      pipeline.zrange(bucket.due, 0, 0, 'WITHSCORES');
    }
    const replies = await this.exec(pipeline, 'append');
    let newTraces = 0;
    for (let i = 0; i < ids.length; i++) {
      if (replies[2 * i] === 0 && replies[2 * i + 1] === 0) newTraces++;
    }
    let nextDue = Infinity;
    const base = 2 * ids.length;
    for (const bucket of this.keys.buckets) {
      const [traces, spans] = replies[base + 2 * bucket.index] as (string | null)[];
      this.counts.set(bucket.index, Number(traces ?? 0), Number(spans ?? 0));
      const head = replies[base + 2 * bucket.index + 1] as string[];
      if (head.length === 2) nextDue = Math.min(nextDue, Number(head[1]));
    }
    this.counts.readAll(performance.now());
    const pendingTraces = this.counts.pendingTraces;
    // A call with more new traces than num_traces would never fit: an empty buffer takes it
    // (the bound becomes the larger of the two) instead of refusing it forever.
    if (newTraces === 0 || pendingTraces + newTraces <= max || pendingTraces === 0) return undefined;
    const wait = nextDue === Infinity ? MIN_RETRY_AFTER_MS : nextDue - nowMs;
    return {
      status: 'full',
      reason: `trace buffer full: ${pendingTraces} undecided traces of ${max} (num_traces)`,
      retryAfterMs: Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, Math.ceil(wait))),
    };
  }

  /**
   * Two round trips: the due heads of every bucket (after expired leases went back to them),
   * then the claims of the oldest, all buckets pipelined each time. Each bucket is asked for a
   * share of `max` only; when a bucket had more, the merge stops at that bucket's last due
   * time, so what is claimed is still the oldest due, just possibly fewer than `max`.
   */
  async claimDue(nowMs: number, max: number): Promise<RedisDueTrace[]> {
    if (max <= 0) return [];
    const now = String(nowMs);
    const buckets = this.keys.buckets;
    const perBucket = Math.min(max, Math.ceil((2 * max) / buckets.length) + 16);

    const peek = this.redis.pipeline();
    for (const bucket of buckets) {
      queueScript(peek, this.script('requeue-expired'), [bucket.due, bucket.claims], [REQUEUE_PER_BUCKET]);
      peek.zrangebyscore(bucket.due, '-inf', now, 'WITHSCORES', 'LIMIT', 0, perBucket);
    }
    const peeked = await this.exec(peek, 'claimDue');
    const candidates: { bucket: BucketKeys; id: string; due: number }[] = [];
    let boundary = Infinity;
    for (const bucket of buckets) {
      const flat = peeked[2 * bucket.index + 1] as string[];
      for (let i = 0; i < flat.length; i += 2) candidates.push({ bucket, id: flat[i], due: Number(flat[i + 1]) });
      if (flat.length === 2 * perBucket) boundary = Math.min(boundary, Number(flat[flat.length - 1]));
    }
    const chosen = candidates
      .filter((c) => c.due <= boundary)
      // Equal due times in trace id order, as a bucket's ZSET orders them.
      .sort((a, b) => a.due - b.due || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, max);
    if (chosen.length === 0) return [];

    const byBucket = new Map<BucketKeys, string[]>();
    for (const c of chosen) {
      const ids = byBucket.get(c.bucket);
      if (ids === undefined) byBucket.set(c.bucket, [c.id]);
      else ids.push(c.id);
    }
    const claimToken = `${this.instanceId}#${++this.claimSeq}`;
    const claim = this.redis.pipeline();
    for (const [bucket, ids] of byBucket) {
      queueScript(claim, this.script('claim'), [bucket.due, bucket.claims], [now, this.leaseMs, claimToken, ...ids]);
    }
    const replies = await this.exec(claim, 'claimDue');

    const claimed = new Map<string, { first: number; due: number; spans: number; records: Buffer[] }>();
    for (const reply of replies as [Buffer, Buffer, Buffer, number, Buffer[]][][]) {
      for (const [id, first, due, spans, records] of reply) {
        claimed.set(id.toString(), { first: Number(first.toString()), due: Number(due.toString()), spans, records });
      }
    }
    const order = chosen.filter((c) => claimed.has(c.id));
    const fragments = await this.rebuildFragments(
      order.flatMap((c) => (claimed.get(c.id)?.records ?? []).map((record) => ({ traceId: c.id, record }))),
      'claimDue',
    );
    const out: RedisDueTrace[] = [];
    let at = 0;
    for (const c of order) {
      const t = claimed.get(c.id) as { first: number; due: number; spans: number; records: Buffer[] };
      const end = at + t.records.length;
      out.push({
        traceId: c.id,
        fragments: fragments.slice(at, end).map((bytes) => ({ bytes, byteLength: bytes.length })),
        spanCount: t.spans,
        firstSeenMs: t.first,
        dueMs: t.due,
        claimToken,
      });
      at = end;
    }
    return out;
  }

  async complete(trace: DueTrace, decision: RecordedDecision, nowMs: number): Promise<Uint8Array[]> {
    const outcome = await this.completeClaim(trace, decision, nowMs);
    return outcome.status === 'completed' ? outcome.late : [];
  }

  async completeMany(decided: readonly CompletedTrace[], _nowMs: number): Promise<Uint8Array[][]> {
    const outcomes = await this.completeClaims(decided);
    return outcomes.map((o) => (o.status === 'completed' ? o.late : []));
  }

  /**
   * Like `complete`, and tells a lost lease apart: the trace was retaken after its lease
   * expired and is decided by another claim, so this decision may be a duplicate. Nothing is
   * changed in that case.
   */
  async completeClaim(trace: DueTrace, decision: RecordedDecision, _nowMs: number): Promise<CompleteOutcome> {
    const [outcome] = await this.completeClaims([{ trace, decision }]);
    return outcome;
  }

  /**
   * `completeClaim` for many traces in one pipelined round trip: a complete script per trace,
   * then the decision order of each kind noted once for all of them.
   */
  async completeClaims(decided: readonly CompletedTrace[]): Promise<CompleteOutcome[]> {
    const pipeline = this.redis.pipeline();
    const buckets: (BucketKeys | undefined)[] = [];
    const remembered = { kept: [] as string[], dropped: [] as string[] };
    for (const { trace, decision } of decided) {
      const token = claimTokenOf(trace);
      if (token === undefined) {
        buckets.push(undefined);
        continue;
      }
      const bucket = this.keys.bucketOf(trace.traceId);
      const bound = decision.keep ? this.settings.sampledCacheSize : this.settings.nonSampledCacheSize;
      const remember = bound > 0;
      queueScript(
        pipeline,
        this.script('complete'),
        [bucket.due, bucket.claims, bucket.counts],
        [trace.traceId, token, encodeDecision(decision), remember ? this.decisionTtlMs : 0],
      );
      buckets.push(bucket);
      if (remember) (decision.keep ? remembered.kept : remembered.dropped).push(trace.traceId);
    }
    // Noted with the completes even though a lease may turn out lost: an extra entry in the
    // order costs one place in the bound at most, a second round trip per batch costs more.
    // Both kinds every time, also without new ids: noting is also when decisions past their
    // TTL are forgotten.
    const queued = buckets.filter((b) => b !== undefined).length;
    const notes: [string, number, string[]][] = [
      [this.keys.keptDecisions, this.settings.sampledCacheSize, remembered.kept],
      [this.keys.droppedDecisions, this.settings.nonSampledCacheSize, remembered.dropped],
    ];
    let noted = 0;
    for (const [key, bound, ids] of notes) {
      if (bound <= 0 || queued === 0) continue;
      queueScript(
        pipeline,
        this.script('note-decision'),
        [key],
        [bound, Math.floor(bound * DECISION_TRIM_SLACK), this.decisionTtlMs, ...ids],
      );
      noted++;
    }
    const replies = queued === 0 ? [] : await this.exec(pipeline, 'complete');

    const outcomes: (CompleteOutcome | undefined)[] = new Array(decided.length);
    const lateRecords: { traceId: string; record: Buffer }[] = [];
    const lateOf: { at: number; from: number; to: number }[] = [];
    let r = 0;
    decided.forEach(({ trace }, i) => {
      const bucket = buckets[i];
      if (bucket === undefined) {
        outcomes[i] = this.leaseLost(ScriptCode.LeaseLost, 'complete', trace.traceId);
        return;
      }
      const reply = replies[r++] as [number, number?, number?, Buffer[]?];
      if (reply[0] < 0) {
        outcomes[i] = this.leaseLost(reply[0], 'complete', trace.traceId);
        return;
      }
      this.counts.set(bucket.index, reply[1] as number, reply[2] as number);
      const from = lateRecords.length;
      for (const record of reply[3] as Buffer[]) lateRecords.push({ traceId: trace.traceId, record });
      lateOf.push({ at: i, from, to: lateRecords.length });
    });

    const forgotten: Buffer[] = [];
    for (let n = 0; n < noted; n++) forgotten.push(...(replies[queued + n] as Buffer[]));
    await this.forgetDecisions(forgotten);
    const late = await this.rebuildFragments(lateRecords, 'complete');
    for (const { at, from, to } of lateOf) outcomes[at] = { status: 'completed', late: late.slice(from, to) };
    return outcomes as CompleteOutcome[];
  }

  async release(trace: DueTrace, retryAtMs: number): Promise<void> {
    await this.releaseClaim(trace, retryAtMs);
  }

  /** Like `release`, and tells a lost lease apart (nothing is changed then). */
  async releaseClaim(trace: DueTrace, retryAtMs: number): Promise<ReleaseOutcome> {
    const token = claimTokenOf(trace);
    if (token === undefined) return this.leaseLost(ScriptCode.LeaseLost, 'release', trace.traceId);
    const bucket = this.keys.bucketOf(trace.traceId);
    const pipeline = this.redis.pipeline();
    queueScript(pipeline, this.script('release'), [bucket.due, bucket.claims], [trace.traceId, token, String(retryAtMs)]);
    const [code] = (await this.exec(pipeline, 'release')) as number[];
    if (code < 0) return this.leaseLost(code, 'release', trace.traceId);
    return { status: 'released' };
  }

  /** Read from every bucket (one round trip), so exact when no other instance writes meanwhile. */
  async pending(): Promise<PendingCounts> {
    await this.readAllCounts();
    return { traces: this.counts.pendingTraces, spans: this.counts.pendingSpans };
  }

  async nextDueMs(): Promise<number | undefined> {
    const pipeline = this.redis.pipeline();
    for (const bucket of this.keys.buckets) pipeline.zrange(bucket.due, 0, 0, 'WITHSCORES');
    const replies = (await this.exec(pipeline, 'nextDueMs')) as string[][];
    let next = Infinity;
    for (const head of replies) if (head.length === 2) next = Math.min(next, Number(head[1]));
    return next === Infinity ? undefined : next;
  }

  /** Quits a connection the buffer opened; a connection passed in stays open. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.countsRefresh;
    if (!this.ownsConnection) return;
    try {
      await this.redis.quit();
    } catch {
      // Already down: nothing to say goodbye to.
      this.redis.disconnect();
    }
  }

  private script(verb: ScriptVerb): BufferScript {
    return scriptOf(this.scripts, verb);
  }

  private async exec(pipeline: ChainableCommander, operation: string): Promise<unknown[]> {
    let results: [Error | null, unknown][] | null;
    const started = this.onRoundTrip === undefined ? 0 : performance.now();
    try {
      results = await pipeline.exec();
    } catch (err) {
      throw redisFailure(err, operation);
    } finally {
      if (this.onRoundTrip !== undefined) this.onRoundTrip(operation, (performance.now() - started) / 1000);
    }
    if (results === null) throw redisFailure(new Error('pipeline discarded'), operation);
    return results.map(([err, value]) => {
      if (err !== null) throw redisFailure(err, operation);
      return value;
    });
  }

  private leaseLost(code: number, operation: string, traceId: string): { status: 'lease-lost'; error: TailsiftError } {
    this.counters.leasesLost++;
    return { status: 'lease-lost', error: scriptError(code, operation, traceId) };
  }

  private async readAllCounts(): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const bucket of this.keys.buckets) pipeline.hmget(bucket.counts, 'traces', 'spans');
    const replies = (await this.exec(pipeline, 'pending')) as (string | null)[][];
    for (const bucket of this.keys.buckets) {
      const [traces, spans] = replies[bucket.index];
      this.counts.set(bucket.index, Number(traces ?? 0), Number(spans ?? 0));
    }
    this.counts.readAll(performance.now());
  }

  /**
   * Refuses keys of another layout and marks the prefix with this one. Before the marker
   * existed a trace's meta was a HASH beside its fragments; the scripts would not see such
   * traces, so they would never be decided: a buffer without the marker must be empty (its
   * counts, just read, say whether it is). Needs the counts read first.
   */
  private async checkFormat(): Promise<void> {
    const prefix = JSON.stringify(this.keys.prefix);
    const drain = 'let the tailsift version that wrote them decide them (stop sending it spans and run it until its buffer is empty), or give this version a new buffer.prefix';
    let format = (await this.exec(this.redis.pipeline().get(this.keys.format), 'connect'))[0] as string | null;
    if (format === null) {
      const pending = this.counts.pendingTraces;
      if (pending > 0) {
        throw new RedisBufferError(
          BUFFER_FORMAT_MISMATCH,
          `Redis trace buffer: prefix ${prefix} holds ${pending} undecided traces in the key layout of an earlier ` +
            `tailsift version (a meta hash beside each trace's fragments), which this version cannot read; ${drain}`,
        );
      }
      // Whichever instance starts first writes it; the others read what it wrote.
      const mark = this.redis.pipeline().set(this.keys.format, BUFFER_FORMAT, 'NX').get(this.keys.format);
      format = (await this.exec(mark, 'connect'))[1] as string | null;
    }
    if (format !== BUFFER_FORMAT) {
      throw new RedisBufferError(
        BUFFER_FORMAT_MISMATCH,
        `Redis trace buffer: the keys under prefix ${prefix} are in buffer format ${JSON.stringify(format)}, this ` +
          `version reads format ${BUFFER_FORMAT}; ${drain}`,
      );
    }
  }

  private refreshCountsInBackground(): void {
    if (this.countsRefresh !== undefined || this.closed) return;
    // A failure here is not the caller's: the operation that needs Redis reports it.
    this.countsRefresh = this.readAllCounts()
      .catch(() => undefined)
      .finally(() => {
        this.countsRefresh = undefined;
      });
  }

  /** Deletes the decisions the decision cache's count bound or TTL let go, one HDEL per bucket. */
  private async forgetDecisions(traceIds: readonly Buffer[]): Promise<void> {
    if (traceIds.length === 0) return;
    const byBucket = new Map<BucketKeys, string[]>();
    for (const raw of traceIds) {
      const id = raw.toString();
      const bucket = this.keys.bucketOf(id);
      const ids = byBucket.get(bucket);
      if (ids === undefined) byBucket.set(bucket, [id]);
      else ids.push(id);
    }
    const pipeline = this.redis.pipeline();
    for (const [bucket, ids] of byBucket) pipeline.hdel(this.keys.decisions(bucket), ...ids);
    await this.exec(pipeline, 'complete');
  }

  /**
   * The fragments that stored records stand for, after fetching the envelopes they refer to
   * that this process does not hold (one round trip, only then). Envelopes due for a TTL
   * refresh are written again in that same round trip.
   */
  private async rebuildFragments(
    records: readonly { readonly traceId: string; readonly record: Buffer }[],
    operation: string,
  ): Promise<Uint8Array[]> {
    if (records.length === 0) return [];
    const wallMs = performance.now();
    const unknown = new Set<string>();
    const refresh = new Map<string, Uint8Array>();
    for (const { record } of records) {
      for (const digest of referencedDigests(record)) {
        const bytes = this.envelopes.get(digest);
        if (bytes === undefined) unknown.add(digest);
        else if (this.envelopes.needsStore(digest, wallMs)) refresh.set(digest, bytes);
      }
    }
    if (unknown.size > 0 || refresh.size > 0) {
      const pipeline = this.redis.pipeline();
      const fetched = [...unknown];
      for (const digest of fetched) pipeline.getexBuffer(this.keys.envelope(digest), 'PX', this.envelopeTtlMs);
      for (const [digest, bytes] of refresh) pipeline.set(this.keys.envelope(digest), asBuffer(bytes), 'PX', this.envelopeTtlMs);
      const replies = await this.exec(pipeline, operation);
      fetched.forEach((digest, i) => {
        const bytes = replies[i] as Buffer | null;
        if (bytes !== null) this.envelopes.stored(digest, bytes, wallMs);
      });
      for (const [digest, bytes] of refresh) this.envelopes.stored(digest, bytes, wallMs);
    }

    let missing = 0;
    const fragments = records.map(({ traceId, record }) => {
      const rebuilt = rebuildFragment(record, traceId, (digest) => this.envelopes.get(digest));
      missing += rebuilt.missing;
      return rebuilt.bytes;
    });
    if (missing > 0) {
      this.counters.envelopesMissing += missing;
      this.logger.warn(
        { envelopes: missing, operation },
        'envelope keys expired while their traces waited: spans delivered without their Resource or scope',
      );
    }
    return fragments;
  }

  /** Logs an outage once and the recovery once, not every reconnect attempt. */
  private watchConnection(): void {
    this.redis.on('error', (err: Error) => {
      if (this.down || this.closed) return;
      this.down = true;
      this.logger.warn({ err: err.message }, 'Redis trace buffer: connection lost; reconnecting');
    });
    this.redis.on('ready', () => {
      if (!this.down) return;
      this.down = false;
      this.logger.info('Redis trace buffer: connection back');
    });
  }
}

function claimTokenOf(trace: DueTrace): string | undefined {
  const token = (trace as Partial<RedisDueTrace>).claimToken;
  return typeof token === 'string' ? token : undefined;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * The ioredis options of a connection of ours (the buffer's; the baselines store and alert
 * state use the same). The URL (passed to ioredis separately) carries user, password, database
 * and `rediss://`; `tls` adds the files to trust and present. `setting` names the config key
 * `tls` came from, for the error when a file cannot be read.
 */
export function redisConnectionOptions(tls?: RedisTlsFiles, setting = 'buffer.tls'): RedisOptions {
  return {
    lazyConnect: true,
    // Fail fast while Redis is down: the caller slows intake or retries next round, and
    // ioredis keeps reconnecting in the background. Nothing is queued or resent blindly.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    ...(tls === undefined ? {} : { tls: tlsConnectionOptions(tls, setting) }),
  };
}

/** Refused credentials are not an outage: retrying will not help, the config must change. */
function connectFailure(err: unknown): TailsiftError {
  const message = err instanceof Error ? err.message : String(err);
  if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(message)) {
    return new RedisBufferError(
      'BUFFER_AUTH_FAILED',
      `Redis trace buffer: Redis refused to let us in (${message}); check the user and password in buffer.url`,
      { cause: err },
    );
  }
  return redisFailure(err, 'connect');
}

function checkOptions(o: RedisTraceBufferOptions): string[] {
  const problems: string[] = [];
  if ((o.url === undefined) === (o.redis === undefined)) problems.push('redis buffer: give either url or redis (a connection), not both or neither');
  if (!/^[^{}\s]+$/.test(o.prefix)) {
    problems.push(`redis buffer: prefix ${JSON.stringify(o.prefix)} must be non-empty without spaces or braces (braces would change the keys' hash slot)`);
  }
  const integer = (name: string, value: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
      problems.push(`redis buffer: ${name} ${value} must be a whole number from ${min} to ${max}`);
    }
  };
  integer('buckets', o.buckets, 1, MAX_BUCKETS);
  integer('leaseMs', o.leaseMs, 1);
  integer('decisionCacheTtlMs', o.decisionCacheTtlMs, 1);
  integer('envelopeTtlMs', o.envelopeTtlMs, 1_000);
  integer('envelopeCacheSize', o.envelopeCacheSize, 1);
  return problems;
}
