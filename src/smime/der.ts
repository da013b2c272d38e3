/**
 * Minimal DER writer. CMS signatures cover exact bytes (the signed
 * attributes) and large contents must be copied at most once, so SignedData
 * is assembled from encoded pieces here instead of through an object model
 * that re-serialises: every helper takes and returns encodings.
 */
import * as asn1js from 'asn1js';

export const TAG = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [0] constructed, context-specific. */
  CONTEXT_0: 0xa0,
  /** [4] constructed, context-specific (GeneralName directoryName). */
  CONTEXT_4: 0xa4,
} as const;

/** Definite length octets, shortest form (X.690 10.1). */
export function encodeLength(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid DER length ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

/** Identifier and length octets for a value of `length` bytes (single-byte tags only). */
export function header(tag: number, length: number): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(length)]);
}

/** A complete TLV over the concatenated contents. */
export function tlv(tag: number, ...contents: readonly Uint8Array[]): Buffer {
  const length = contents.reduce((sum, part) => sum + part.byteLength, 0);
  return Buffer.concat([header(tag, length), ...contents]);
}

export function sequence(...elements: readonly Uint8Array[]): Buffer {
  return tlv(TAG.SEQUENCE, ...elements);
}

/**
 * Contents of a DER SET OF: the element encodings in ascending order,
 * compared as octet strings where the shorter one is padded with trailing
 * zero octets (X.690 11.6). Buffer.compare orders a proper prefix first,
 * which is one of the orders that padding rule allows.
 */
export function sortSetOf(elements: readonly Uint8Array[]): Buffer[] {
  return elements.map((element) => Buffer.from(element.buffer, element.byteOffset, element.byteLength)).sort(Buffer.compare);
}

/** A DER SET OF with its elements sorted; `tag` allows IMPLICIT retagging (e.g. [0]). */
export function setOf(elements: readonly Uint8Array[], tag: number = TAG.SET): Buffer {
  return tlv(tag, ...sortSetOf(elements));
}

const oidEncodings = new Map<string, Buffer>();

/** OBJECT IDENTIFIER; the few OIDs CMS uses are encoded once and reused (they are constants). */
export function oid(dotted: string): Buffer {
  let encoded = oidEncodings.get(dotted);
  if (!encoded) {
    encoded = Buffer.from(new asn1js.ObjectIdentifier({ value: dotted }).toBER(false));
    oidEncodings.set(dotted, encoded);
  }
  return encoded;
}

export function octetString(value: Uint8Array): Buffer {
  return tlv(TAG.OCTET_STRING, value);
}

export const NULL = Buffer.from([TAG.NULL, 0x00]);

/**
 * Time as RFC 5652 11.3 / RFC 5280 4.1.2.5 want it: UTCTime for 1950..2049,
 * GeneralizedTime otherwise, always UTC with seconds and no fraction (DER
 * forbids trailing zero fractions; whole seconds are what every peer reads).
 */
export function time(date: Date): Buffer {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  const year = date.getUTCFullYear();
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  if (year >= 1950 && year < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${two(year % 100)}${rest}`, 'ascii'));
  if (year < 0 || year > 9999) throw new RangeError('year outside GeneralizedTime range');
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'ascii'));
}
