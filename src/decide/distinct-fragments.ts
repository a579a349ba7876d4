/**
 * At-least-once delivery can hand the buffer the same request twice (a Kafka batch redelivered
 * after a rebalance or a crash before its offsets were committed), and each copy becomes an
 * identical fragment of the trace. Forwarding both would duplicate spans in trace storage, so
 * byte-identical fragments are kept once. Distinct requests never produce identical fragment
 * bytes unless the sender itself sent the same spans twice.
 */
export function distinctFragments(fragments: readonly Uint8Array[]): { fragments: readonly Uint8Array[]; duplicates: readonly Uint8Array[] } {
  if (fragments.length < 2) return { fragments, duplicates: [] };
  const kept: Uint8Array[] = [];
  const duplicates: Uint8Array[] = [];
  // Compare only fragments of equal length; the common case has no two of the same length.
  const byLength = new Map<number, Uint8Array[]>();
  for (const f of fragments) {
    const same = byLength.get(f.length);
    if (same === undefined) {
      byLength.set(f.length, [f]);
      kept.push(f);
    } else if (same.some((g) => Buffer.from(g.buffer, g.byteOffset, g.length).equals(f))) {
      duplicates.push(f);
    } else {
      same.push(f);
      kept.push(f);
    }
  }
  return { fragments: kept, duplicates };
}
