/** The BER value decoders against encodings made by the DER writer and asn1js, and against hand-made edge cases. */
import * as asn1js from 'asn1js';
import { BerError } from '../../src/smime/ber-reader.js';
import { decodeOid, decodeSmallInteger, decodeTime } from '../../src/smime/ber-values.js';
import { oid } from '../../src/smime/der.js';

/** Content octets of a DER TLV with a short length. */
const body = (tlv: Buffer): Buffer => tlv.subarray(2);
const asn1Oid = (dotted: string): Buffer => Buffer.from(new asn1js.ObjectIdentifier({ value: dotted }).toBER());

describe('decodeOid', () => {
  test.each([
    '1.2.840.113549.1.7.2',
    '2.16.840.1.101.3.4.2.1',
    '1.3.14.3.2.26',
    '0.9.2342.19200300.100.1.25',
    '1.3.6.1.4.1.311.16.4',
    '2.999.1',
    '2.5.4.3',
    '1.39.4294967296',
    '0.0',
  ])('round trip of %s through the DER writer and asn1js', (dotted) => {
    expect(decodeOid(body(oid(dotted)))).toBe(dotted);
    expect(decodeOid(body(asn1Oid(dotted)))).toBe(dotted);
  });

  test('first-arc rule: 2.x takes every first subidentifier from 80 up', () => {
    expect(decodeOid(Buffer.from([0x27]))).toBe('0.39');
    expect(decodeOid(Buffer.from([0x28]))).toBe('1.0');
    expect(decodeOid(Buffer.from([0x4f]))).toBe('1.39');
    expect(decodeOid(Buffer.from([0x50]))).toBe('2.0');
    expect(decodeOid(Buffer.from([0x88, 0x37]))).toBe('2.999');
  });

  test('arcs beyond 2^53 are exact (UUID arc under 2.25)', () => {
    const uuidArc = '329800735698586629295641978511506172918';
    const encoded = body(derLong(`2.25.${uuidArc}`));
    expect(decodeOid(encoded)).toBe(`2.25.${uuidArc}`);
    expect(decodeOid(Buffer.from([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]))).toBe(`2.${(2n ** 63n - 80n).toString()}`);
    expect(decodeOid(Buffer.from([0x2a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]))).toBe(`1.2.${(2n ** 56n).toString()}`);
  });

  test('malformed: empty, truncated subidentifier, non-minimal 0x80 lead', () => {
    for (const bad of [[], [0x2a, 0x86], [0x2a, 0x80, 0x01], [0x80, 0x01]]) {
      expect(() => decodeOid(Buffer.from(bad))).toThrow(BerError);
    }
  });
});

/** OID encoding with BigInt arcs (the DER writer and asn1js stop at safe integers). */
function derLong(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => BigInt(arc));
  const subids = [(arcs[0] ?? 0n) * 40n + (arcs[1] ?? 0n), ...arcs.slice(2)];
  const out: number[] = [];
  for (const subid of subids) {
    const groups: number[] = [];
    let rest = subid;
    do {
      groups.unshift(Number(rest & 0x7fn));
      rest >>= 7n;
    } while (rest > 0n);
    groups.forEach((group, i) => out.push(i < groups.length - 1 ? group | 0x80 : group));
  }
  return Buffer.from([0x06, out.length, ...out]);
}

describe('decodeSmallInteger', () => {
  test('minimal non-negative values', () => {
    expect(decodeSmallInteger(Buffer.from([0x01]))).toBe(1);
    expect(decodeSmallInteger(Buffer.from([0x00]))).toBe(0);
    expect(decodeSmallInteger(Buffer.from([0x00, 0x80]))).toBe(128);
    expect(decodeSmallInteger(Buffer.from([0x01, 0x00]))).toBe(256);
    expect(decodeSmallInteger(Buffer.from([0x00, 0xff, 0xff, 0xff, 0xff]))).toBe(0xffffffff);
  });

  test('empty, non-minimal, negative and huge are refused', () => {
    for (const bad of [[], [0x00, 0x01], [0xff, 0x80], [0x80], [0x01, 0x00, 0x00, 0x00, 0x00]]) {
      expect(() => decodeSmallInteger(Buffer.from(bad))).toThrow(BerError);
    }
  });
});

describe('decodeTime', () => {
  const utc = (text: string): Date | undefined => decodeTime(0x17, Buffer.from(text, 'latin1'));
  const generalized = (text: string): Date | undefined => decodeTime(0x18, Buffer.from(text, 'latin1'));

  test('UTCTime: YY 49 is 2049, YY 50 is 1950 (RFC 5280 4.1.2.5.1)', () => {
    expect(utc('491231235959Z')?.toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(utc('500101000000Z')?.toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(utc('000229120000Z')?.toISOString()).toBe('2000-02-29T12:00:00.000Z');
  });

  test('UTCTime agrees with asn1js on what it writes', () => {
    for (const iso of ['2026-11-23T14:22:30Z', '1999-01-02T03:04:05Z', '2049-06-30T00:00:01Z']) {
      const der = Buffer.from(new asn1js.UTCTime({ valueDate: new Date(iso) }).toBER());
      expect(decodeTime(0x17, der.subarray(2))?.getTime()).toBe(new Date(iso).getTime());
    }
  });

  test('UTCTime without seconds and with an offset (BER senders)', () => {
    expect(utc('2611231422Z')?.toISOString()).toBe('2026-11-23T14:22:00.000Z');
    expect(utc('261123142230+0100')?.toISOString()).toBe('2026-11-23T13:22:30.000Z');
    expect(utc('261123142230-0230')?.toISOString()).toBe('2026-11-23T16:52:30.000Z');
  });

  test('GeneralizedTime with and without fraction, and far years', () => {
    expect(generalized('20261123142230Z')?.toISOString()).toBe('2026-11-23T14:22:30.000Z');
    expect(generalized('20261123142230.5Z')?.toISOString()).toBe('2026-11-23T14:22:30.500Z');
    expect(generalized('20261123142230.123456Z')?.toISOString()).toBe('2026-11-23T14:22:30.123Z');
    expect(generalized('20261123142230,25Z')?.toISOString()).toBe('2026-11-23T14:22:30.250Z');
    expect(generalized('20500101000000Z')?.toISOString()).toBe('2050-01-01T00:00:00.000Z');
    expect(generalized('00500101000000Z')?.getUTCFullYear()).toBe(50);
  });

  test('unreadable times give undefined, never a throw', () => {
    for (const bad of ['', 'Z', '261123142230', '261323142230Z', '260230120000Z', '261123242230Z', '261123146030Z', '2611231422305Z', '26112314223OZ', '261123142230+2400']) {
      expect(utc(bad)).toBeUndefined();
    }
    for (const bad of ['20261123142230', '20261123142230.Z', '2026112314Z', '20250229000000Z']) {
      expect(generalized(bad)).toBeUndefined();
    }
    expect(decodeTime(0x04, Buffer.from('261123142230Z'))).toBeUndefined();
  });
});
