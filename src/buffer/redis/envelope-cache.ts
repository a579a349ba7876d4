/**
 * Envelopes (Resource and scope bytes, see fragment-envelopes.ts) this instance stored or read
 * lately, least recently used first out. A claimed trace whose envelopes are here is rebuilt
 * without a round trip, and an envelope is written to Redis at most once per quarter of its
 * TTL however many fragments use it.
 */
export class EnvelopeCache {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, { bytes: Uint8Array; storedAtMs: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(digest: string): Uint8Array | undefined {
    const entry = this.entries.get(digest);
    if (entry === undefined) return undefined;
    this.entries.delete(digest);
    this.entries.set(digest, entry);
    return entry.bytes;
  }

  /**
   * True when the envelope's key must be written (again) at `nowMs`: unknown here, or its TTL
   * was last set over a quarter TTL ago. A fragment stored now then finds its envelope in
   * Redis for at least three quarters of the TTL.
   */
  needsStore(digest: string, nowMs: number): boolean {
    const entry = this.entries.get(digest);
    return entry === undefined || nowMs - entry.storedAtMs > this.ttlMs / 4;
  }

  /** Records that the envelope's key was written, or read with its TTL reset, at `nowMs`. */
  stored(digest: string, bytes: Uint8Array, nowMs: number): void {
    this.entries.delete(digest);
    // A copy: the caller's bytes may be a view into a much larger request buffer.
    this.entries.set(digest, { bytes: Uint8Array.prototype.slice.call(bytes), storedAtMs: nowMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}
