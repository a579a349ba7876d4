import { addSlotCounts, copySlotCounts, type SlotCounts } from './slot-counts.js';

/** A (service, operation) pair and its stable id (the same on every instance). */
export interface OperationRef {
  readonly id: string;
  readonly service: string;
  readonly operation: string;
}

export interface OperationRecord extends OperationRef {
  /** Earliest time (event time, ms) any instance saw a span of the operation, as far as this store knows. */
  readonly firstSeenMs: number;
}

export interface EdgeRecord {
  /** `<parent service>\t<child service>`. */
  readonly key: string;
  readonly firstSeenMs: number;
  /** Traces this instance saw with the edge. */
  seen: number;
}

/**
 * Where baseline counts live: per operation, per time slot. One interface, two homes: memory
 * (one instance) and Redis (instances add their own counts and read everyone's merged).
 *
 * Reads are synchronous and come from this process: the Redis store keeps a merged copy that
 * `sync` refreshes, so judging a span never waits for the network.
 */
export interface BaselineStore {
  readonly kind: 'memory' | 'redis';
  /**
   * Bumped whenever counts of past slots may have changed (a sync brought other instances'
   * counts); caches of computed baselines compare it.
   */
  readonly version: number;
  /** Registers an operation (idempotent); returns what the store knows of it. */
  noteOperation(op: OperationRef, nowMs: number): OperationRecord;
  operation(id: string): OperationRecord | undefined;
  /** Every operation known, this instance's and (after a sync) the others'. */
  operations(): Iterable<OperationRecord>;
  /** Registers a call edge seen in a trace (idempotent); undefined when the edge cap is reached. */
  noteEdge(key: string, nowMs: number, maxEdges: number): EdgeRecord | undefined;
  edgeCount(): number;
  /** Event time of the first span any instance observed, if any. */
  startedMs(): number | undefined;
  /** Adds this instance's counts for one operation in one slot. */
  add(opId: string, slot: number, counts: SlotCounts): void;
  /** Merged counts of one operation in one slot, if any. */
  slot(opId: string, slot: number): SlotCounts | undefined;
  /** Forgets slots before `oldestSlot`. */
  prune(oldestSlot: number): void;
  /** Memory: nothing to do. Redis: writes this instance's counts, reads the merged ones. */
  sync(nowMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Merged counts per slot and per operation, in this process. */
export class SlotTable {
  private readonly slots = new Map<number, Map<string, SlotCounts>>();

  add(opId: string, slot: number, counts: SlotCounts): void {
    let ops = this.slots.get(slot);
    if (ops === undefined) {
      ops = new Map();
      this.slots.set(slot, ops);
    }
    const existing = ops.get(opId);
    if (existing === undefined) ops.set(opId, copySlotCounts(counts));
    else addSlotCounts(existing, counts);
  }

  get(opId: string, slot: number): SlotCounts | undefined {
    return this.slots.get(slot)?.get(opId);
  }

  /** Replaces a whole slot (the merged counts read from Redis). */
  replace(slot: number, ops: Map<string, SlotCounts>): void {
    this.slots.set(slot, ops);
  }

  has(slot: number): boolean {
    return this.slots.has(slot);
  }

  opIds(slot: number): string[] {
    const ops = this.slots.get(slot);
    return ops === undefined ? [] : [...ops.keys()];
  }

  prune(oldestSlot: number): void {
    for (const slot of this.slots.keys()) if (slot < oldestSlot) this.slots.delete(slot);
  }
}

/** Baselines of this process only. */
export class MemoryBaselineStore implements BaselineStore {
  readonly kind = 'memory' as const;
  readonly version = 0;
  private readonly table = new SlotTable();
  private readonly ops = new Map<string, OperationRecord>();
  private readonly edges = new Map<string, EdgeRecord>();
  private started: number | undefined;

  noteOperation(op: OperationRef, nowMs: number): OperationRecord {
    this.started ??= nowMs;
    let record = this.ops.get(op.id);
    if (record === undefined) {
      record = { id: op.id, service: op.service, operation: op.operation, firstSeenMs: nowMs };
      this.ops.set(op.id, record);
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
  }

  slot(opId: string, slot: number): SlotCounts | undefined {
    return this.table.get(opId, slot);
  }

  prune(oldestSlot: number): void {
    this.table.prune(oldestSlot);
  }

  async sync(_nowMs: number): Promise<void> {}

  async close(): Promise<void> {}
}
