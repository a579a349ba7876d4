import type { Decision, EvalContext, TraceView } from './evaluator.js';
import type { RandomShareEvaluator } from './keep-probability.js';

/** The Collector's salt when `hash_salt` is empty or absent. */
export const DEFAULT_HASH_SALT = 'default-hash-seed';

const MAX_UINT64 = (1n << 64n) - 1n;
const FNV_OFFSET_HI = 0xcbf29ce4;
const FNV_OFFSET_LO = 0x84222325;
const TWO_32 = 0x1_0000_0000;

/**
 * `probabilistic`: a fixed share of traces chosen by trace id, the same traces the Collector
 * chooses for the same salt and percentage. The hash is FNV-1a 64 over the salt's UTF-8
 * bytes followed by the 16 trace-id bytes; a trace is sampled when hash <= threshold, where
 * threshold = MaxUint64 × (sampling_percentage / 100) computed as Go's big.Float does
 * (see `samplingThreshold`). Percentages of 100 or more sample everything; 0 or less samples
 * only the (practically absent) traces whose hash is 0.
 */
export class ProbabilisticEvaluator implements RandomShareEvaluator {
  readonly keepProbability: number | undefined;
  private readonly thresholdHi: number;
  private readonly thresholdLo: number;
  /** FNV state after the salt: the salt prefix is the same for every trace. */
  private readonly saltedHi: number;
  private readonly saltedLo: number;

  constructor(samplingPercentage: number, hashSalt: string = '') {
    const threshold = samplingThreshold(samplingPercentage);
    this.thresholdHi = Number(threshold >> 32n);
    this.thresholdLo = Number(threshold & 0xffff_ffffn);
    const ratio = samplingPercentage / 100;
    this.keepProbability = ratio > 0 ? Math.min(1, ratio) : undefined;
    const state = fnvUpdate([FNV_OFFSET_HI, FNV_OFFSET_LO], new TextEncoder().encode(hashSalt === '' ? DEFAULT_HASH_SALT : hashSalt));
    [this.saltedHi, this.saltedLo] = state;
  }

  evaluate(trace: TraceView, _ctx: EvalContext): Decision {
    hashTraceId(this.saltedHi, this.saltedLo, trace.traceId);
    const hi = hashed[0];
    const lo = hashed[1];
    const sampled = hi < this.thresholdHi || (hi === this.thresholdHi && lo <= this.thresholdLo);
    return sampled ? 'sampled' : 'not_sampled';
  }
}

/** FNV-1a 64 of salt + trace id, as an unsigned 64-bit integer (exposed for tests and tools). */
export function traceIdHash(hashSalt: string, traceIdHex: string): bigint {
  const salt = new TextEncoder().encode(hashSalt === '' ? DEFAULT_HASH_SALT : hashSalt);
  const [saltedHi, saltedLo] = fnvUpdate([FNV_OFFSET_HI, FNV_OFFSET_LO], salt);
  hashTraceId(saltedHi, saltedLo, traceIdHex);
  return (BigInt(hashed[0]) << 32n) | BigInt(hashed[1]);
}

/**
 * The Collector's threshold: big.Float(MaxUint64) × big.NewFloat(percentage / 100), rounded
 * to the 64-bit mantissa of the MaxUint64 operand (round half to even), then truncated to an
 * integer and clamped to [0, MaxUint64]. Done exactly in BigInt: a plain float multiply would
 * land on a different threshold (e.g. 10% → 1844674407370955263, not MaxUint64 / 10).
 */
export function samplingThreshold(percentage: number): bigint {
  const ratio = percentage / 100;
  if (!(ratio > 0)) return 0n;
  if (!Number.isFinite(ratio)) return MAX_UINT64;
  const { mantissa, exponent } = decomposeDouble(ratio);
  // ratio = mantissa × 2^exponent exactly; round MaxUint64 × mantissa to 64 significant bits.
  const product = roundToBits(MAX_UINT64 * mantissa, 64);
  const value = exponent >= 0 ? product << BigInt(exponent) : product >> BigInt(-exponent);
  return value > MAX_UINT64 ? MAX_UINT64 : value;
}

function decomposeDouble(value: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const biasedExponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  if (biasedExponent === 0) return { mantissa: fraction, exponent: -1074 };
  return { mantissa: fraction | (1n << 52n), exponent: biasedExponent - 1075 };
}

function roundToBits(value: bigint, bits: number): bigint {
  const length = value.toString(2).length;
  if (length <= bits) return value;
  const shift = BigInt(length - bits);
  let kept = value >> shift;
  const rest = value - (kept << shift);
  const half = 1n << (shift - 1n);
  if (rest > half || (rest === half && (kept & 1n) === 1n)) kept += 1n;
  return kept << shift;
}

/**
 * FNV-1a 64 on two unsigned 32-bit halves: multiplying by the prime 2^40 + 0x1b3 is
 * h × 0x1b3 plus h shifted left by 40, each piece exact in a double. No BigInt per trace;
 * `hashTraceId` does the same steps over the trace id's hex text.
 */
function fnvUpdate(state: readonly [number, number], bytes: Uint8Array): [number, number] {
  let [hi, lo] = state;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]) >>> 0;
    const lowProduct = lo * 0x1b3;
    const carry = Math.floor(lowProduct / TWO_32);
    const newLo = lowProduct >>> 0;
    hi = (hi * 0x1b3 + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = newLo;
  }
  return [hi, lo];
}

/** -1 for a character that is not a hex digit. */
const HEX_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUES['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_VALUES['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** The high and low halves of the last `hashTraceId`: every trace is hashed, so no tuple per call. */
const hashed = new Uint32Array(2);

/**
 * Continues FNV-1a 64 from a salted state over the 16 bytes the hex trace id spells, read
 * straight from the string, and leaves the result in `hashed`. A byte that is not two hex
 * digits reads as `parseInt(pair, 16)` would read it (the first digit alone, else 0); ids
 * from the decoder are always 32 hex digits.
 */
function hashTraceId(saltedHi: number, saltedLo: number, hex: string): void {
  let hi = saltedHi;
  let lo = saltedLo;
  for (let i = 0; i < 32; i += 2) {
    const c1 = hex.charCodeAt(i);
    const c2 = hex.charCodeAt(i + 1);
    const d1 = c1 < 128 ? HEX_VALUES[c1] : -1;
    const d2 = c2 < 128 ? HEX_VALUES[c2] : -1;
    const byte = d1 < 0 ? 0 : d2 < 0 ? d1 : (d1 << 4) | d2;
    lo = (lo ^ byte) >>> 0;
    const lowProduct = lo * 0x1b3;
    hi = (hi * 0x1b3 + Math.floor(lowProduct / TWO_32) + ((lo << 8) >>> 0)) >>> 0;
    lo = lowProduct >>> 0;
  }
  hashed[0] = hi;
  hashed[1] = lo;
}
