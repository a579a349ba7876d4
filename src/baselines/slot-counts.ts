/**
 * What one operation did in one time slot: spans, errors and latency buckets, kept apart for
 * the spans judged normal (`n`, `e`, `b`, which form the baseline) and the spans judged
 * anomalous (`xn`, `xe`, `xb`, which only the recent window sees). Plain counters, so the
 * counts of several instances for one slot add up.
 */
export interface SlotCounts {
  n: number;
  e: number;
  readonly b: Map<number, number>;
  xn: number;
  xe: number;
  readonly xb: Map<number, number>;
}

export function emptySlotCounts(): SlotCounts {
  return { n: 0, e: 0, b: new Map(), xn: 0, xe: 0, xb: new Map() };
}

/** Counts one span into `counts`. */
export function countSpan(counts: SlotCounts, bucket: number, error: boolean, outlier: boolean): void {
  if (outlier) {
    counts.xn += 1;
    if (error) counts.xe += 1;
    counts.xb.set(bucket, (counts.xb.get(bucket) ?? 0) + 1);
  } else {
    counts.n += 1;
    if (error) counts.e += 1;
    counts.b.set(bucket, (counts.b.get(bucket) ?? 0) + 1);
  }
}

export function addSlotCounts(into: SlotCounts, from: SlotCounts): void {
  into.n += from.n;
  into.e += from.e;
  into.xn += from.xn;
  into.xe += from.xe;
  for (const [i, c] of from.b) into.b.set(i, (into.b.get(i) ?? 0) + c);
  for (const [i, c] of from.xb) into.xb.set(i, (into.xb.get(i) ?? 0) + c);
}

export function copySlotCounts(from: SlotCounts): SlotCounts {
  const copy = emptySlotCounts();
  addSlotCounts(copy, from);
  return copy;
}

/**
 * Hash fields for Redis: `<opId>:n`, `<opId>:e`, `<opId>:b<bucket>` and the same with `x` for
 * outliers. One hash per slot holds every operation, so reading a slot is one HGETALL.
 */
export function slotCountFields(opId: string, counts: SlotCounts): [field: string, delta: number][] {
  const fields: [string, number][] = [];
  if (counts.n > 0) fields.push([`${opId}:n`, counts.n]);
  if (counts.e > 0) fields.push([`${opId}:e`, counts.e]);
  if (counts.xn > 0) fields.push([`${opId}:xn`, counts.xn]);
  if (counts.xe > 0) fields.push([`${opId}:xe`, counts.xe]);
  for (const [i, c] of counts.b) if (c > 0) fields.push([`${opId}:b${i}`, c]);
  for (const [i, c] of counts.xb) if (c > 0) fields.push([`${opId}:xb${i}`, c]);
  return fields;
}

const FIELD = /^([0-9a-f]+):(n|e|xn|xe|b|xb)(-?\d+)?$/;

/** Reads a slot hash back into counts per operation id; unknown fields are skipped. */
export function parseSlotFields(hash: Record<string, string>): Map<string, SlotCounts> {
  const byOp = new Map<string, SlotCounts>();
  for (const [field, raw] of Object.entries(hash)) {
    const match = FIELD.exec(field);
    const value = Number(raw);
    if (match === null || !Number.isFinite(value)) continue;
    const [, opId, what, bucketText] = match;
    let counts = byOp.get(opId);
    if (counts === undefined) {
      counts = emptySlotCounts();
      byOp.set(opId, counts);
    }
    switch (what) {
      case 'n':
      case 'e':
      case 'xn':
      case 'xe':
        if (bucketText === undefined) counts[what] += value;
        break;
      case 'b':
      case 'xb':
        if (bucketText !== undefined) counts[what].set(Number(bucketText), value);
        break;
    }
  }
  return byOp;
}
