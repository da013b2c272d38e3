/**
 * Decoders for the primitive values CMS needs from BER content octets
 * (X.690 8.3 INTEGER, 8.19 OBJECT IDENTIFIER, X.680 UTCTime and
 * GeneralizedTime). They work on slices of the received buffer, so reading
 * a SignerInfo builds no object tree. Malformed integers and OIDs throw
 * BerError (the caller turns it into permerror); an unreadable time gives
 * undefined, because signingTime is informational.
 */
import { BerError } from './ber-reader.js';

/**
 * Dotted form of an OBJECT IDENTIFIER's content octets. Subidentifiers are
 * base-128 with the high bit as continuation; the first one packs the first
 * two arcs (X.690 8.19.4: 40 * arc1 + arc2, arc1 = 2 takes everything from
 * 80 up). Arcs beyond 2^53 (UUID arcs under 2.25) are exact via BigInt.
 */
export function decodeOid(content: Buffer): string {
  // The same dozen OIDs occur in every message: remember their dotted form (bounded, cleared when full).
  const key = content.length <= 32 ? content.toString('latin1') : undefined;
  const known = key === undefined ? undefined : OID_CACHE.get(key);
  if (known !== undefined) return known;
  const dotted = decodeOidUncached(content);
  if (key !== undefined) {
    if (OID_CACHE.size >= MAX_CACHED_OIDS) OID_CACHE.clear();
    OID_CACHE.set(key, dotted);
  }
  return dotted;
}

const OID_CACHE = new Map<string, string>();
const MAX_CACHED_OIDS = 512;

function decodeOidUncached(content: Buffer): string {
  if (content.length === 0) throw new BerError('empty OBJECT IDENTIFIER');
  const arcs: string[] = [];
  let pos = 0;
  while (pos < content.length) {
    // X.690 8.19.2: the fewest octets, so a subidentifier never starts with 0x80.
    if (content[pos] === 0x80) throw new BerError('OBJECT IDENTIFIER subidentifier with a leading 0x80');
    let value = 0;
    let big: bigint | undefined;
    for (;;) {
      const octet = content[pos++];
      if (octet === undefined) throw new BerError('OBJECT IDENTIFIER ends inside a subidentifier');
      const bits = octet & 0x7f;
      if (big !== undefined) big = big * 128n + BigInt(bits);
      else if (value >= 2 ** 45) big = BigInt(value) * 128n + BigInt(bits);
      else value = value * 128 + bits;
      if ((octet & 0x80) === 0) break;
    }
    if (arcs.length === 0) {
      if (big !== undefined) arcs.push('2', (big - 80n).toString());
      else if (value < 40) arcs.push('0', String(value));
      else if (value < 80) arcs.push('1', String(value - 40));
      else arcs.push('2', String(value - 80));
    } else {
      arcs.push(big !== undefined ? big.toString() : String(value));
    }
  }
  return arcs.join('.');
}

/**
 * A small non-negative INTEGER (versions, salt lengths). X.690 8.3.2 asks
 * for the minimal two's complement form in BER too; negative values and
 * values over 2^31 are refused (no CMS field needs them).
 */
export function decodeSmallInteger(content: Buffer): number {
  const first = content[0];
  if (first === undefined) throw new BerError('empty INTEGER');
  if (content.length > 1 && ((first === 0 && (content[1] ?? 0) < 0x80) || (first === 0xff && (content[1] ?? 0) >= 0x80))) {
    throw new BerError('INTEGER not in its minimal form');
  }
  if (first >= 0x80) throw new BerError('negative INTEGER');
  if (content.length > 5 || (content.length === 5 && first !== 0)) throw new BerError('INTEGER too large', 'too-large');
  let value = 0;
  for (const octet of content) value = value * 256 + octet;
  return value;
}

const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/**
 * UTCTime (YYMMDDhhmm[ss], YY >= 50 is 19YY, RFC 5280 4.1.2.5.1) or
 * GeneralizedTime (YYYYMMDDhhmmss[.fff]), each with Z or a +-hhmm offset.
 * DER demands seconds and Z; senders are not always DER, and a local time
 * without zone cannot be placed, so it is unreadable. Anything unreadable
 * or out of range gives undefined.
 */
export function decodeTime(tag: number, content: Buffer): Date | undefined {
  const text = content.toString('latin1');
  const match =
    tag === UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?()(Z|[+-]\d{4})$/.exec(text)
      : tag === GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,](\d+))?(Z|[+-]\d{4})$/.exec(text)
        : null;
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  let year = Number(y);
  if (tag === UTC_TIME) year += year >= 50 ? 1900 : 2000;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? '0');
  const millis = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (zone && zone !== 'Z') {
    const zoneHours = Number(zone.slice(1, 3));
    const zoneMinutes = Number(zone.slice(3, 5));
    if (zoneHours > 23 || zoneMinutes > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  }
  // Date.UTC maps years 0-99 to 19xx; setUTCFullYear keeps GeneralizedTime years as written.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis));
  date.setUTCFullYear(year, month - 1, day);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}
