import { OtlpDecodeError } from '../errors.js';

/** Protobuf wire types that tailsift accepts (3 and 4, the deprecated groups, are rejected). */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const TWO_POW_32 = 4294967296;

/**
 * A bounds-checked protobuf wire reader over one Uint8Array.
 *
 * Nested messages are read with the same reader: `enter` narrows `end` to the nested
 * message and `leave` restores it, so a length inside a message can never reach past the
 * message that contains it and no reader object is allocated per message.
 *
 * Every failure is an OtlpDecodeError carrying the byte offset where reading stopped.
 */
export class ProtobufReader {
  readonly buf: Uint8Array;
  pos: number;
  end: number;
  /** The low and high 32 bits (unsigned) of the last varint64 or fixed64 read. */
  lo = 0;
  hi = 0;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  /**
   * A field tag: `(fieldNumber << 3) | wireType`. Field number 0, groups and the undefined
   * wire types 6 and 7 are rejected here so that callers only ever see wire types 0, 1, 2, 5.
   */
  tag(): number {
    const at = this.pos;
    let t: number;
    if (at < this.end && this.buf[at] < 0x80) {
      t = this.buf[at];
      this.pos = at + 1;
    } else {
      t = this.varint64();
      // Field numbers stop at 2^29 - 1, so a valid tag always fits in 32 bits.
      if (this.hi !== 0) throw new OtlpDecodeError('field tag larger than 32 bits', at);
    }
    const wire = t & 7;
    if (wire === 3 || wire === 4) throw new OtlpDecodeError('group wire type (protobuf groups are not supported)', at);
    if (wire > 5) throw new OtlpDecodeError(`invalid wire type ${wire}`, at);
    if (t < 8) throw new OtlpDecodeError('field number 0', at);
    return t;
  }

  /**
   * A varint, keeping its low 32 bits as an unsigned number (how protobuf reads uint32, and
   * int32/enum after `| 0`). Longer encodings are accepted and checked like any varint.
   */
  varint32(): number {
    const buf = this.buf;
    const at = this.pos;
    if (at < this.end && buf[at] < 0x80) {
      this.pos = at + 1;
      return buf[at];
    }
    this.readVarintWords();
    return this.lo;
  }

  /**
   * A full 64-bit varint as an unsigned number (exact below 2^53). Its exact words stay in
   * `lo` and `hi`, so callers that need every bit (int64 read as signed) need no BigInt.
   */
  varint64(): number {
    this.readVarintWords();
    return this.hi * TWO_POW_32 + this.lo;
  }

  private readVarintWords(): void {
    const buf = this.buf;
    const start = this.pos;
    const end = this.end;
    let lo = 0;
    let hi = 0;
    let pos = start;
    // Bytes 1-4 hold bits 0-27.
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw new OtlpDecodeError('truncated varint', start);
      const b = buf[pos++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.lo = lo;
        this.hi = 0;
        return;
      }
    }
    // Byte 5 holds bits 28-34: its four low bits end `lo`, its three high bits start `hi`.
    if (pos >= end) throw new OtlpDecodeError('truncated varint', start);
    let b = buf[pos++];
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >>> 4;
    // Bytes 6-10 hold bits 35-63; the 10th may only carry bit 63.
    for (let shift = 3; b >= 0x80; shift += 7) {
      if (pos - start === 10) throw new OtlpDecodeError('varint longer than 10 bytes', start);
      if (pos >= end) throw new OtlpDecodeError('truncated varint', start);
      b = buf[pos++];
      if (pos - start === 10 && b > 1 && b < 0x80) throw new OtlpDecodeError('varint overflows 64 bits', start);
      hi |= (b & 0x7f) << shift;
    }
    this.pos = pos;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** Skips a varint, checking that it ends within 10 bytes and within the message. */
  skipVarint(): void {
    const buf = this.buf;
    const start = this.pos;
    const end = this.end;
    let pos = start;
    for (;;) {
      if (pos - start === 10) throw new OtlpDecodeError('varint longer than 10 bytes', start);
      if (pos >= end) throw new OtlpDecodeError('truncated varint', start);
      const b = buf[pos++];
      if (b < 0x80) {
        if (pos - start === 10 && b > 1) throw new OtlpDecodeError('varint overflows 64 bits', start);
        break;
      }
    }
    this.pos = pos;
  }

  /** A little-endian fixed32, unsigned. */
  fixed32(): number {
    const pos = this.pos;
    if (this.end - pos < 4) throw new OtlpDecodeError('truncated fixed32', pos);
    const buf = this.buf;
    this.pos = pos + 4;
    return (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
  }

  /** A little-endian fixed64 as an unsigned number (hi * 2^32 + lo; exact below 2^53). */
  fixed64(): number {
    const pos = this.pos;
    if (this.end - pos < 8) throw new OtlpDecodeError('truncated fixed64', pos);
    const buf = this.buf;
    this.pos = pos + 8;
    const lo = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
    const hi = (buf[pos + 4] | (buf[pos + 5] << 8) | (buf[pos + 6] << 16) | (buf[pos + 7] << 24)) >>> 0;
    this.lo = lo;
    this.hi = hi;
    return hi * TWO_POW_32 + lo;
  }

  /** A little-endian IEEE 754 double. */
  double(): number {
    const pos = this.pos;
    if (this.end - pos < 8) throw new OtlpDecodeError('truncated double', pos);
    this.pos = pos + 8;
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + pos, 8);
    return view.getFloat64(0, true);
  }

  /**
   * The length prefix of a length-delimited field, checked against what is left of the
   * current message. Returns the length; `pos` is then at the first payload byte.
   */
  length(): number {
    const at = this.pos;
    const buf = this.buf;
    let len: number;
    if (at < this.end && buf[at] < 0x80) {
      len = buf[at];
      this.pos = at + 1;
    } else {
      len = this.varint64();
    }
    const left = this.end - this.pos;
    if (len > left) throw new OtlpDecodeError(`length ${len} past the end of the message (${left} bytes left)`, at);
    return len;
  }

  /** Skips one field's value of the given wire type (from `tag`, so never a group). */
  skipField(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.skipVarint();
        return;
      case WIRE_FIXED64:
        if (this.end - this.pos < 8) throw new OtlpDecodeError('truncated fixed64', this.pos);
        this.pos += 8;
        return;
      case WIRE_LEN: {
        const len = this.length();
        this.pos += len;
        return;
      }
      case WIRE_FIXED32:
        if (this.end - this.pos < 4) throw new OtlpDecodeError('truncated fixed32', this.pos);
        this.pos += 4;
        return;
      default:
        throw new OtlpDecodeError(`invalid wire type ${wireType}`, this.pos);
    }
  }

  /**
   * Reads a length prefix and narrows the reader to that nested message. Returns the outer
   * end, to be handed back to `leave` once the nested message is read.
   */
  enter(): number {
    const len = this.length();
    const outer = this.end;
    this.end = this.pos + len;
    return outer;
  }

  /** Restores the outer message after `enter`; the nested message must be fully read. */
  leave(outerEnd: number): void {
    if (this.pos !== this.end) throw new OtlpDecodeError('nested message not fully read', this.pos);
    this.end = outerEnd;
  }
}

/** Splits the high/low words of a 64-bit two's complement value into a signed number. */
export function int64ToNumber(lo: number, hi: number): number {
  if (hi >= 0x80000000) {
    // Negative: -(~value + 1) computed word by word to stay in exact integer range.
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    return -(nhi * TWO_POW_32 + nlo);
  }
  return hi * TWO_POW_32 + lo;
}

/** The error for a known field that arrived with the wrong wire type. */
export function wrongWireType(field: string, got: number, want: number, offset: number): OtlpDecodeError {
  return new OtlpDecodeError(`${field}: wire type ${got}, expected ${want}`, offset);
}
