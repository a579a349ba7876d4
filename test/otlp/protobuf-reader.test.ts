import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { OtlpDecodeError } from '../../src/errors.js';
import { ProtobufReader, int64ToNumber } from '../../src/otlp/protobuf-reader.js';
import { cat, double, fixed32, fixed64, ld, tag, varint, vi } from './protobuf-builder.js';

function errorOf(fn: () => unknown): OtlpDecodeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OtlpDecodeError);
    return err as OtlpDecodeError;
  }
  throw new Error('expected an OtlpDecodeError');
}

describe('ProtobufReader varints', () => {
  it.each([0n, 1n, 127n, 128n, 300n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 63n, 2n ** 64n - 1n])(
    'reads %s exactly into lo/hi',
    (value) => {
      const r = new ProtobufReader(varint(value));
      const n = r.varint64();
      expect(r.atEnd()).toBe(true);
      expect(BigInt(r.hi) * 2n ** 32n + BigInt(r.lo)).toBe(value);
      if (value <= 2n ** 53n) expect(n).toBe(Number(value));
    },
  );

  it('keeps the low 32 bits in varint32', () => {
    expect(new ProtobufReader(varint(2n ** 32n + 5n)).varint32()).toBe(5);
    expect(new ProtobufReader(varint(-1)).varint32() | 0).toBe(-1);
  });

  it('round-trips any 64-bit value, and int64ToNumber reads it signed', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
        const r = new ProtobufReader(varint(value));
        r.varint64();
        expect(int64ToNumber(r.lo, r.hi)).toBe(Number(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects varints that are truncated, longer than 10 bytes, or past 64 bits', () => {
    expect(errorOf(() => new ProtobufReader(Uint8Array.of(0x80, 0x80)).varint64()).message).toBe('truncated varint (at byte 0)');
    const eleven = Uint8Array.of(...new Array(10).fill(0x80), 0x00);
    expect(errorOf(() => new ProtobufReader(eleven).varint64()).message).toMatch(/^varint longer than 10 bytes/);
    expect(errorOf(() => new ProtobufReader(eleven).skipVarint()).message).toMatch(/^varint longer than 10 bytes/);
    const overflow = Uint8Array.of(...new Array(9).fill(0xff), 0x02);
    expect(errorOf(() => new ProtobufReader(overflow).varint64()).message).toMatch(/^varint overflows 64 bits/);
    expect(errorOf(() => new ProtobufReader(overflow).skipVarint()).message).toMatch(/^varint overflows 64 bits/);
  });

  it('does not read past the end it was given', () => {
    const buf = Uint8Array.of(0x81, 0x01);
    expect(errorOf(() => new ProtobufReader(buf, 0, 1).varint64()).message).toMatch(/^truncated varint/);
  });
});

describe('ProtobufReader fixed-size values', () => {
  it('reads fixed32, fixed64 and double', () => {
    const r = new ProtobufReader(cat(fixed32(1, 0xfedcba98), fixed64(2, 2n ** 64n - 2n), double(3, -1.5)));
    expect(r.tag()).toBe(0x0d);
    expect(r.fixed32()).toBe(0xfedcba98);
    expect(r.tag()).toBe(0x11);
    r.fixed64();
    expect([r.lo, r.hi]).toEqual([0xfffffffe, 0xffffffff]);
    expect(r.tag()).toBe(0x19);
    expect(r.double()).toBe(-1.5);
    expect(r.atEnd()).toBe(true);
  });

  it('rejects truncated fixed values', () => {
    expect(errorOf(() => new ProtobufReader(new Uint8Array(3)).fixed32()).message).toMatch(/^truncated fixed32/);
    expect(errorOf(() => new ProtobufReader(new Uint8Array(7)).fixed64()).message).toMatch(/^truncated fixed64/);
    expect(errorOf(() => new ProtobufReader(new Uint8Array(7)).double()).message).toMatch(/^truncated double/);
  });
});

describe('ProtobufReader tags, skipping and nesting', () => {
  it('skips a field of every wire type', () => {
    const buf = cat(vi(1, 2n ** 63n), fixed64(2, 1n), ld(3, new Uint8Array(300)), fixed32(4, 1), vi(5, 9));
    const r = new ProtobufReader(buf);
    for (let i = 0; i < 4; i++) r.skipField(r.tag() & 7);
    expect(r.tag()).toBe(0x28);
    expect(r.varint32()).toBe(9);
    expect(r.atEnd()).toBe(true);
  });

  it('rejects groups, undefined wire types and field 0', () => {
    expect(errorOf(() => new ProtobufReader(tag(5, 3)).tag()).message).toMatch(/^group wire type/);
    expect(errorOf(() => new ProtobufReader(tag(5, 4)).tag()).message).toMatch(/^group wire type/);
    expect(errorOf(() => new ProtobufReader(tag(5, 6)).tag()).message).toMatch(/^invalid wire type 6/);
    expect(errorOf(() => new ProtobufReader(tag(0, 0)).tag()).message).toMatch(/^field number 0/);
  });

  it('reads the largest field number in a multi-byte tag', () => {
    const max = 2 ** 29 - 1;
    expect(new ProtobufReader(tag(max, 5)).tag()).toBe(max * 8 + 5);
  });

  it('narrows to a nested message and restores the outer one', () => {
    const buf = cat(ld(1, vi(1, 7)), vi(2, 8));
    const r = new ProtobufReader(buf);
    r.tag();
    const outer = r.enter();
    expect(r.end).toBe(buf.length - 2);
    r.tag();
    expect(r.varint32()).toBe(7);
    r.leave(outer);
    expect(r.end).toBe(buf.length);
    r.tag();
    expect(r.varint32()).toBe(8);
  });

  it('rejects a nested length longer than its message', () => {
    const inner = cat(tag(1, 2), varint(10), new Uint8Array(3));
    const r = new ProtobufReader(cat(ld(1, inner), new Uint8Array(20)));
    r.tag();
    r.enter();
    r.tag();
    expect(errorOf(() => r.length()).message).toBe('length 10 past the end of the message (3 bytes left) (at byte 3)');
  });

  it('refuses to leave a nested message with bytes unread', () => {
    const r = new ProtobufReader(ld(1, vi(1, 7)));
    r.tag();
    const outer = r.enter();
    expect(errorOf(() => r.leave(outer)).message).toMatch(/^nested message not fully read/);
  });
});
