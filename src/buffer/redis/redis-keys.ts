/**
 * Where the Redis trace buffer keeps things.
 *
 * Every key of a trace carries the hash tag of its bucket (`<prefix>:{b042}:...`), so a
 * trace, its bucket's due and claim indexes and its decision live in one hash slot: one Lua
 * script can change them atomically, also on Redis Cluster. A script never touches two
 * buckets. Envelope keys and the decision order are not in any bucket; they are written by
 * commands of their own.
 *
 * Per bucket:            `<base>due` ZSET trace -> decide-at ms, `<base>claims` ZSET trace ->
 *                        lease expiry ms (Redis server time), `<base>n` HASH {traces, spans}
 * Per trace:             `<base>t:<id>` LIST: the trace's meta, then its stored fragments
 *                        (scripts/trace-meta.lua); one key per trace, not a meta HASH beside
 *                        the list, for the key's overhead
 * Per bucket, decided:   `<base>d` HASH trace id -> decision (expires a TTL after its last write;
 *                        older entries are forgotten in the order kept under `{decisions}`)
 * Shared:                `<prefix>:e:<digest>` envelope bytes (TTL), `<prefix>:{decisions}:kept-order`
 *                        and `:dropped-order` LISTs of decided trace ids (the decision cache's order),
 *                        `<prefix>:format` the layout's version (see BUFFER_FORMAT)
 *
 * Scripts derive the per-trace keys from KEYS[1] (`<base>due`) by the same rule, so this file
 * and the scripts' headers must change together.
 */

/** Hash slots in a Redis Cluster; more buckets than this could not spread any further. */
export const MAX_BUCKETS = 16384;

/**
 * The version of this layout, kept under `<prefix>:format`. Version 1, before the marker
 * existed, kept a trace's meta in a HASH `<base>m:<id>` beside its fragments `<base>f:<id>`:
 * these scripts would not see such traces, so a buffer holding them is refused at connect.
 */
export const BUFFER_FORMAT = '2';

export interface BucketKeys {
  readonly index: number;
  /** `<prefix>:{bNNN}:`, the start of every key of the bucket. */
  readonly base: string;
  readonly due: string;
  readonly claims: string;
  readonly counts: string;
}

export class RedisKeys {
  readonly buckets: readonly BucketKeys[];
  readonly keptDecisions: string;
  readonly droppedDecisions: string;
  /** STRING: the layout version the keys under the prefix are in (BUFFER_FORMAT). */
  readonly format: string;

  constructor(
    readonly prefix: string,
    bucketCount: number,
  ) {
    const width = Math.max(3, String(bucketCount - 1).length);
    const buckets: BucketKeys[] = [];
    for (let i = 0; i < bucketCount; i++) {
      const base = `${prefix}:{b${String(i).padStart(width, '0')}}:`;
      buckets.push({ index: i, base, due: `${base}due`, claims: `${base}claims`, counts: `${base}n` });
    }
    this.buckets = buckets;
    this.keptDecisions = `${prefix}:{decisions}:kept-order`;
    this.droppedDecisions = `${prefix}:{decisions}:dropped-order`;
    this.format = `${prefix}:format`;
  }

  bucketOf(traceId: string): BucketKeys {
    return this.buckets[fnv1a32(traceId) % this.buckets.length];
  }

  /** A pending trace's LIST: its meta, then its stored fragments. */
  trace(bucket: BucketKeys, traceId: string): string {
    return `${bucket.base}t:${traceId}`;
  }

  /** The bucket's decisions HASH: trace id -> recorded decision. */
  decisions(bucket: BucketKeys): string {
    return `${bucket.base}d`;
  }

  envelope(digestHex: string): string {
    return `${this.prefix}:e:${digestHex}`;
  }
}

/**
 * FNV-1a (32 bit) over the trace id's characters. Any instance, in any language, must put a
 * trace in the same bucket, so this is a fixed, documented hash rather than a runtime's own.
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
