import { redisConnectionOptions, type RedisTlsFiles } from '../../buffer/redis/redis-trace-buffer.js';
import { Redis } from 'ioredis';
import { SlotTable, type BaselineStore, type EdgeRecord, type OperationRecord, type OperationRef } from '../baseline-store.js';
import { addSlotCounts, copySlotCounts, parseSlotFields, slotCountFields, type SlotCounts } from '../slot-counts.js';
import { defineLuaScripts, loadLuaScripts, queueLuaScript, scriptOf, type LuaScript } from './lua-scripts.js';

/**
 * Where the shared baselines live in Redis. Every key carries a hash tag, so each script
 * touches one hash slot (Redis Cluster works):
 *
 *   `<prefix>:bl:{w<slot>}`  HASH per time slot, every operation's counts (see slot-counts.ts)
 *   `<prefix>:bl:{ops}`      HASH opId -> "<firstSeenMs>\t<service>\t<operation>", and
 *                            `~started` -> "<ms>", the first span any instance saw
 *   `<prefix>:bl:{edges}`    HASH "<parent>\t<child>" -> "<firstSeenMs>"
 */
export class BaselineKeys {
  readonly ops: string;
  readonly edges: string;

  constructor(readonly prefix: string) {
    this.ops = `${prefix}:bl:{ops}`;
    this.edges = `${prefix}:bl:{edges}`;
  }

  slot(slot: number): string {
    return `${this.prefix}:bl:{w${slot}}`;
  }
}

const STARTED_FIELD = '~started';
/** Registries outlive any window: forgetting an operation would make it look new again. */
const REGISTRY_TTL_MS = 7 * 24 * 3_600_000;
const SCRIPT_VERBS = ['add-slot-counts', 'note-first-seen'] as const;

export interface RedisBaselineStoreOptions {
  /** Redis URL; the store opens and closes its own connection. */
  readonly url?: string;
  /** TLS files for that connection (as the buffer's `tls`). */
  readonly tls?: RedisTlsFiles;
  /** An open connection to use instead; its owner closes it. */
  readonly redis?: Redis;
  readonly prefix: string;
  readonly slotMs: number;
  readonly windowMs: number;
  /** How often `sync` runs; a slot is read a last time once every instance has flushed it. */
  readonly flushIntervalMs: number;
}

/**
 * Baselines shared by every instance on one prefix. Each instance counts into its own copy,
 * and on `sync` adds the counts gathered since the last sync to the slot hashes (HINCRBY in a
 * script, pipelined), then reads back the merged slots it still needs: the ones that can still
 * change, once more after they stopped changing, and, on the first sync, the whole window, so
 * an instance that starts late starts warm.
 */
export class RedisBaselineStore implements BaselineStore {
  readonly kind = 'redis' as const;
  version = 0;
  private readonly table = new SlotTable();
  /** Counts added since the last sync, by slot: what this instance still has to write. */
  private pending = new SlotTable();
  private pendingSlots = new Set<number>();
  private readonly ops = new Map<string, OperationRecord>();
  private unregisteredOps: OperationRecord[] = [];
  private readonly edges = new Map<string, EdgeRecord>();
  private unregisteredEdges: EdgeRecord[] = [];
  private started: number | undefined;
  private startedUnregistered = false;
  /** Slots read after they stopped changing: never read again. */
  private readonly finalSlots = new Set<number>();
  private readonly keys: BaselineKeys;
  private readonly slotTtlMs: number;
  private readonly settleMs: number;
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly ownsConnection: boolean,
    private readonly scripts: ReadonlyMap<string, LuaScript>,
    private readonly options: RedisBaselineStoreOptions,
  ) {
    this.keys = new BaselineKeys(options.prefix);
    this.slotTtlMs = options.windowMs + 2 * options.slotMs;
    // Other instances flush within their interval; a slot is final well after that.
    this.settleMs = 3 * options.flushIntervalMs + 1_000;
  }

  static async connect(options: RedisBaselineStoreOptions): Promise<RedisBaselineStore> {
    const scripts = await loadLuaScripts(import.meta.url, 'src/baselines/redis/scripts', 'tailsiftBl', SCRIPT_VERBS);
    const owns = options.redis === undefined;
    const redis =
      options.redis ??
      new Redis(options.url ?? 'redis://127.0.0.1:6379', redisConnectionOptions(options.tls, 'baselines.store.tls'));
    if (owns) {
      // Errors surface through failed syncs; without a listener ioredis would log each reconnect attempt.
      redis.on('error', () => undefined);
      await redis.connect();
    }
    defineLuaScripts(redis, scripts);
    return new RedisBaselineStore(redis, owns, scripts, options);
  }

  noteOperation(op: OperationRef, nowMs: number): OperationRecord {
    this.noteStarted(nowMs);
    let record = this.ops.get(op.id);
    if (record === undefined) {
      record = { id: op.id, service: op.service, operation: op.operation, firstSeenMs: nowMs };
      this.ops.set(op.id, record);
      this.unregisteredOps.push(record);
    }
    return record;
  }

  operation(id: string): OperationRecord | undefined {
    return this.ops.get(id);
  }

  operations(): Iterable<OperationRecord> {
    return this.ops.values();
  }

  noteEdge(key: string, nowMs: number, maxEdges: number): EdgeRecord | undefined {
    let edge = this.edges.get(key);
    if (edge === undefined) {
      if (this.edges.size >= maxEdges) return undefined;
      edge = { key, firstSeenMs: nowMs, seen: 0 };
      this.edges.set(key, edge);
      this.unregisteredEdges.push(edge);
    }
    return edge;
  }

  edgeCount(): number {
    return this.edges.size;
  }

  startedMs(): number | undefined {
    return this.started;
  }

  add(opId: string, slot: number, counts: SlotCounts): void {
    this.table.add(opId, slot, counts);
    this.pending.add(opId, slot, counts);
    this.pendingSlots.add(slot);
  }

  slot(opId: string, slot: number): SlotCounts | undefined {
    return this.table.get(opId, slot);
  }

  prune(oldestSlot: number): void {
    this.table.prune(oldestSlot);
    for (const slot of this.finalSlots) if (slot < oldestSlot) this.finalSlots.delete(slot);
  }

  /**
   * Writes this instance's counts and registrations, then reads the merged slots and
   * registries. On failure the counts stay pending for the next sync; nothing is lost while
   * the process lives.
   */
  async sync(nowMs: number): Promise<void> {
    if (this.closed) return;
    await this.write();
    await this.read(nowMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private noteStarted(nowMs: number): void {
    if (this.started === undefined || nowMs < this.started) {
      this.started = nowMs;
      this.startedUnregistered = true;
    }
  }

  private async write(): Promise<void> {
    const pending = this.pending;
    const slots = [...this.pendingSlots];
    const ops = this.unregisteredOps;
    const edges = this.unregisteredEdges;
    const started = this.startedUnregistered;
    this.pending = new SlotTable();
    this.pendingSlots = new Set();
    this.unregisteredOps = [];
    this.unregisteredEdges = [];
    this.startedUnregistered = false;

    const pipeline = this.redis.pipeline();
    const addCounts = scriptOf(this.scripts, 'add-slot-counts');
    const noteFirstSeen = scriptOf(this.scripts, 'note-first-seen');
    for (const slot of slots) {
      const args: (string | number)[] = [this.slotTtlMs];
      for (const opId of pending.opIds(slot)) {
        const counts = pending.get(opId, slot);
        if (counts === undefined) continue;
        for (const [field, delta] of slotCountFields(opId, counts)) args.push(field, delta);
      }
      if (args.length > 1) queueLuaScript(pipeline, addCounts, [this.keys.slot(slot)], args);
    }
    const opArgs: (string | number)[] = [REGISTRY_TTL_MS];
    if (started && this.started !== undefined) opArgs.push(STARTED_FIELD, this.started, '');
    for (const op of ops) opArgs.push(op.id, op.firstSeenMs, `${op.service}\t${op.operation}`);
    queueLuaScript(pipeline, noteFirstSeen, [this.keys.ops], opArgs);
    const edgeArgs: (string | number)[] = [REGISTRY_TTL_MS];
    for (const edge of edges) edgeArgs.push(edge.key, edge.firstSeenMs, '');
    queueLuaScript(pipeline, noteFirstSeen, [this.keys.edges], edgeArgs);

    const results = await pipeline.exec().catch((err: unknown) => [[err, null]] as [Error | null, unknown][]);
    const failed = (results ?? []).find(([err]) => err !== null);
    if (failed === undefined && results !== null) return;
    // Put everything back: the next sync writes it together with what came in meanwhile.
    for (const slot of slots) {
      for (const opId of pending.opIds(slot)) {
        const counts = pending.get(opId, slot);
        if (counts !== undefined) {
          this.pending.add(opId, slot, counts);
          this.pendingSlots.add(slot);
        }
      }
    }
    this.unregisteredOps.push(...ops);
    this.unregisteredEdges.push(...edges);
    if (started) this.startedUnregistered = true;
    throw failed?.[0] ?? new Error('Redis pipeline returned nothing');
  }

  private async read(nowMs: number): Promise<void> {
    const currentSlot = Math.floor(nowMs / this.options.slotMs);
    const windowSlots = Math.ceil(this.options.windowMs / this.options.slotMs);
    const wanted: { slot: number; final: boolean }[] = [];
    for (let slot = currentSlot - windowSlots; slot <= currentSlot; slot++) {
      if (this.finalSlots.has(slot)) continue;
      const final = nowMs >= (slot + 1) * this.options.slotMs + this.settleMs;
      wanted.push({ slot, final });
    }
    const pipeline = this.redis.pipeline();
    for (const { slot } of wanted) pipeline.hgetall(this.keys.slot(slot));
    pipeline.hgetall(this.keys.ops);
    pipeline.hgetall(this.keys.edges);
    const results = await pipeline.exec();
    if (results === null) throw new Error('Redis pipeline returned nothing');
    const failed = results.find(([err]) => err !== null);
    if (failed !== undefined) throw failed[0];

    wanted.forEach(({ slot, final }, i) => {
      const merged = parseSlotFields(results[i][1] as Record<string, string>);
      // Counts added while the read was under way are not in Redis yet; keep them in view.
      for (const opId of this.pending.opIds(slot)) {
        const local = this.pending.get(opId, slot);
        if (local === undefined) continue;
        const into = merged.get(opId);
        if (into === undefined) merged.set(opId, copySlotCounts(local));
        else addSlotCounts(into, local);
      }
      if (merged.size > 0 || this.table.has(slot)) this.table.replace(slot, merged);
      if (final) this.finalSlots.add(slot);
    });
    this.readOperations(results[wanted.length][1] as Record<string, string>);
    this.readEdges(results[wanted.length + 1][1] as Record<string, string>);
    this.version += 1;
  }

  private readOperations(hash: Record<string, string>): void {
    for (const [field, value] of Object.entries(hash)) {
      const [msText, service, operation] = value.split('\t');
      const ms = Number(msText);
      if (!Number.isFinite(ms)) continue;
      if (field === STARTED_FIELD) {
        if (this.started === undefined || ms < this.started) this.started = ms;
        continue;
      }
      if (service === undefined || operation === undefined) continue;
      const known = this.ops.get(field);
      if (known === undefined || ms < known.firstSeenMs) {
        this.ops.set(field, { id: field, service, operation, firstSeenMs: ms });
      }
    }
  }

  private readEdges(hash: Record<string, string>): void {
    for (const [key, value] of Object.entries(hash)) {
      const ms = Number(value);
      if (!Number.isFinite(ms)) continue;
      const known = this.edges.get(key);
      if (known === undefined) this.edges.set(key, { key, firstSeenMs: ms, seen: 0 });
      else if (ms < known.firstSeenMs) this.edges.set(key, { key, firstSeenMs: ms, seen: known.seen });
    }
  }
}
