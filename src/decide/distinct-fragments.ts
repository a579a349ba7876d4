import type { StoredFragment } from '../otlp/types.js';

/**
 * At-least-once delivery can hand the buffer the same request twice (a Kafka batch redelivered
 * after a rebalance or a crash before its offsets were committed), and each copy becomes an
 * identical fragment of the trace. Forwarding both would duplicate spans in trace storage, so
 * byte-identical fragments are kept once. Distinct requests never produce identical fragment
 * bytes unless the sender itself sent the same spans twice.
 */
export function distinctFragments<F extends StoredFragment>(fragments: readonly F[]): { fragments: readonly F[]; duplicates: readonly F[] } {
  if (fragments.length < 2) return { fragments, duplicates: [] };
  const kept: F[] = [];
  const duplicates: F[] = [];
  // Compare only fragments of equal length (their bytes are written only then); the common
  // case has no two of the same length.
  const byLength = new Map<number, F[]>();
  for (const f of fragments) {
    const same = byLength.get(f.byteLength);
    if (same === undefined) {
      byLength.set(f.byteLength, [f]);
      kept.push(f);
    } else if (same.some((g) => sameBytes(g.bytes, f.bytes))) {
      duplicates.push(f);
    } else {
      same.push(f);
      kept.push(f);
    }
  }
  return { fragments: kept, duplicates };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}
