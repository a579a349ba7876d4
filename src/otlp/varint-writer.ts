/**
 * Writing protobuf base-128 varints for lengths and tags, for every place that builds
 * protobuf bytes by hand (fragment re-wrap, span annotation, compact Redis storage). Values
 * are non-negative JavaScript numbers (exact up to 2^53), which covers every length.
 */

/** Bytes `writeVarint` needs for `v`. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 5;
  for (let x = Math.floor(v / 0x800000000); x > 0; x = Math.floor(x / 128)) n++;
  return n;
}

/** Writes `v` at `p` and returns the position after it. */
export function writeVarint(out: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    out[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}
