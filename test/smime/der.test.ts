import { encodeLength, setOf, sortSetOf, time, tlv } from '../../src/smime/der.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('DER writer', () => {
  it('encodes lengths in the shortest form (X.690 10.1)', () => {
    expect(encodeLength(0)).toEqual(hex('00'));
    expect(encodeLength(127)).toEqual(hex('7f'));
    expect(encodeLength(128)).toEqual(hex('8180'));
    expect(encodeLength(255)).toEqual(hex('81ff'));
    expect(encodeLength(256)).toEqual(hex('820100'));
    expect(encodeLength(50 * 1024 * 1024)).toEqual(hex('84 03200000'));
    expect(encodeLength(0x123456)).toEqual(hex('83 123456'));
    expect(() => encodeLength(-1)).toThrow(RangeError);
  });

  it('frames contents given in several pieces', () => {
    expect(tlv(0x04, hex('01'), hex('0203'))).toEqual(hex('04 03 010203'));
    expect(tlv(0x30)).toEqual(hex('3000'));
  });

  it('sorts SET OF elements by their encodings, shorter prefix first (X.690 11.6)', () => {
    const elements = [hex('0402 ffff'), hex('0401 00'), hex('0402 0000'), hex('0401 ff'), hex('0403 000000')];
    expect(sortSetOf(elements)).toEqual([hex('0401 00'), hex('0401 ff'), hex('0402 0000'), hex('0402 ffff'), hex('0403 000000')]);
    expect(sortSetOf([hex('3003 020101'), hex('3001')])).toEqual([hex('3001'), hex('3003 020101')]);
    expect(setOf([hex('0401 ff'), hex('0401 00')], 0xa0)).toEqual(hex('a006 040100 0401ff'));
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050, whole seconds in UTC (RFC 5652 11.3)', () => {
    expect(time(new Date('2049-12-31T23:59:59.999Z'))).toEqual(Buffer.concat([hex('170d'), Buffer.from('491231235959Z')]));
    expect(time(new Date('1950-01-01T00:00:00Z'))).toEqual(Buffer.concat([hex('170d'), Buffer.from('500101000000Z')]));
    expect(time(new Date('2050-01-01T00:00:00Z'))).toEqual(Buffer.concat([hex('180f'), Buffer.from('20500101000000Z')]));
    expect(time(new Date('1949-12-31T23:59:59Z'))).toEqual(Buffer.concat([hex('180f'), Buffer.from('19491231235959Z')]));
    expect(() => time(new Date(Number.NaN))).toThrow(RangeError);
  });
});
