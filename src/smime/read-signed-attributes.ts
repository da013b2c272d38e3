/**
 * Reads the signed attributes of an inbound SignerInfo (RFC 5652 5.3,
 * RFC 8551 2.5). The attribute octets are kept as received: the signature
 * covers their DER with the [0] tag replaced by SET, and re-encoding a
 * parsed structure could change bytes a sloppy signer wrote.
 */
import { BerError, BerReader, expectTag, type BerNode } from './ber-reader.js';
import { decodeOid, decodeTime } from './ber-values.js';
import { BoundedCache } from '../pki/memo.js';
import { OID } from './oids.js';

export interface RawAttribute {
  readonly type: string;
  /** Each value's encoding (TLV) as received. */
  readonly values: readonly Buffer[];
}

export interface EncryptionKeyPreference {
  /** DER of the issuer Name, as the sender wrote it. */
  readonly issuer: Buffer;
  /** Contents of the serialNumber INTEGER. */
  readonly serial: Buffer;
  /** Upper-case hex of the INTEGER octets, as OpenSSL (X509Certificate.serialNumber) prints serials. */
  readonly serialHex: string;
}

export interface SignedAttributesView {
  /** The octets the signature covers: the received [0] encoding with its tag turned into SET (0x31). */
  readonly signedBytes: Buffer;
  readonly attributes: readonly RawAttribute[];
  readonly contentType?: string;
  readonly messageDigest?: Buffer;
  readonly signingTime?: Date;
  /** Capability OIDs in the signer's order of preference. */
  readonly smimeCapabilities?: readonly string[];
  /** RFC 8551 id-aa-encrypKeyPref, else Microsoft's attribute. */
  readonly encryptionKeyPreference?: EncryptionKeyPreference;
}

/**
 * `encoded` is the received [0] IMPLICIT SET OF Attribute (its TLV). Throws
 * BerError on a structure that is not a non-empty SET OF Attribute, or on
 * contentType / messageDigest that are not a single OID / OCTET STRING; the
 * caller maps it to permerror. The other attributes are read leniently:
 * what cannot be read is left out.
 */
export function readSignedAttributes(encoded: Buffer): SignedAttributesView {
  const ber = new BerReader(encoded);
  const node = ber.read(0, encoded.length, 1);
  if (node.tag !== 0xa0 || node.end !== encoded.length) throw new BerError('signedAttrs is not one [0] SET');
  const signedBytes = Buffer.concat([Buffer.from([0x31]), encoded.subarray(1)]);
  const parsed = readAttributeSet(ber, node);
  const single = (oid: string): BerNode | undefined => {
    const matches = parsed.filter((a) => a.type === oid);
    if (matches.length === 0) return undefined;
    // RFC 5652 5.3 and 11: these attributes occur once with exactly one value.
    if (matches.length > 1 || matches[0]?.values.length !== 1) throw new BerError(`attribute ${oid} must occur once with one value`);
    return matches[0].values[0];
  };
  const contentType = single(OID.contentType);
  const digest = single(OID.messageDigest);
  return {
    signedBytes,
    attributes: parsed.map((a) => ({ type: a.type, values: a.values.map((value) => ber.bytes(value)) })),
    ...(contentType ? { contentType: decodeOid(ber.contents(expectTag(contentType, 0x06, 'contentType'))) } : {}),
    ...(digest ? { messageDigest: ber.octets(digest, 6) } : {}),
    ...optional('signingTime', readTime(ber, single(OID.signingTime))),
    ...optional('smimeCapabilities', capabilitiesOf(ber, single(OID.smimeCapabilities))),
    ...optional('encryptionKeyPreference', lenient(() => readKeyPreference(ber, single(OID.smimeEncryptionKeyPreference), single(OID.microsoftEncryptionKeyPreference)))),
  };
}

/**
 * Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET SIZE (1..MAX) OF ANY },
 * in a SET SIZE (1..MAX). The order is not checked: DER sorting is the
 * signer's duty and the signature covers the octets as received.
 */
export function readAttributeSet(ber: BerReader, node: BerNode): { type: string; values: BerNode[] }[] {
  const elements = ber.children(node, MAX_ATTRIBUTES, 3);
  if (elements.length === 0) throw new BerError('empty attribute SET');
  return elements.map((element) => {
    const parts = ber.children(expectTag(element, 0x30, 'Attribute'), 2, 4);
    if (parts.length !== 2) throw new BerError('Attribute is not { OID, SET }');
    const type = decodeOid(ber.contents(expectTag(parts[0], 0x06, 'attribute type')));
    const values = ber.children(expectTag(parts[1], 0x31, 'attribute values'), MAX_ATTRIBUTES, 5);
    if (values.length === 0) throw new BerError(`attribute ${type} without values`);
    return { type, values };
  });
}

/** Real signers write fewer than ten attributes; the bound keeps hostile input cheap. */
const MAX_ATTRIBUTES = 64;

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** Informational attributes (capabilities, key preference) that cannot be read are left out, as a missing one would be. */
function lenient<V>(read: () => V | undefined): V | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof BerError) return undefined;
    throw err;
  }
}

/** An unreadable signingTime is ignored rather than fatal: it is informational, the path check then uses `at` only. */
function readTime(ber: BerReader, node: BerNode | undefined): Date | undefined {
  if (node === undefined || (node.tag !== 0x17 && node.tag !== 0x18)) return undefined;
  return decodeTime(node.tag, ber.contents(node));
}

/** Encodings up to this size are remembered; a client sends the same list with every message. */
const MAX_REMEMBERED_CAPABILITIES = 1024;
const CAPABILITIES = new BoundedCache<{ readonly value: readonly string[] | undefined }>(256);

/** readCapabilities, leniently, once per distinct encoding (the list is shared: it is read-only). */
function capabilitiesOf(ber: BerReader, node: BerNode | undefined): readonly string[] | undefined {
  if (node === undefined) return undefined;
  const bytes = ber.bytes(node);
  if (bytes.length > MAX_REMEMBERED_CAPABILITIES) return lenient(() => readCapabilities(ber, node));
  const key = bytes.toString('latin1');
  const known = CAPABILITIES.get(key);
  if (known) return known.value;
  const read = lenient(() => readCapabilities(ber, node));
  const value = read && Object.freeze(read);
  CAPABILITIES.set(key, { value });
  return value;
}

/** SMIMECapabilities ::= SEQUENCE OF SEQUENCE { capabilityID OID, parameters ANY OPTIONAL }; unreadable entries are skipped. */
function readCapabilities(ber: BerReader, node: BerNode | undefined): string[] | undefined {
  if (node?.tag !== 0x30) return undefined;
  const oids: string[] = [];
  for (const capability of ber.children(node, 256, 7)) {
    if (capability.tag !== 0x30) continue;
    const [first] = ber.children(capability, 2, 8);
    if (first?.tag === 0x06) oids.push(decodeOid(ber.contents(first)));
  }
  return oids;
}

/**
 * RFC 8551: SMIMEEncryptionKeyPreference ::= CHOICE { issuerAndSerialNumber [0] IMPLICIT ..., ... };
 * Microsoft's attribute carries a plain IssuerAndSerialNumber. Only the
 * issuer-and-serial form names a certificate we can look up; others are ignored.
 */
function readKeyPreference(ber: BerReader, rfc: BerNode | undefined, microsoft: BerNode | undefined): EncryptionKeyPreference | undefined {
  if (rfc?.tag === 0xa0) {
    const found = lenient(() => issuerAndSerial(ber, rfc));
    if (found) return found;
  }
  if (microsoft?.tag === 0x30) return issuerAndSerial(ber, microsoft);
  return undefined;
}

function issuerAndSerial(ber: BerReader, node: BerNode): EncryptionKeyPreference | undefined {
  const [issuer, serial] = ber.children(node, 2, 7);
  if (issuer?.tag !== 0x30 || serial?.tag !== 0x02 || serial.contentEnd === serial.contentStart) return undefined;
  const serialBytes = Buffer.from(ber.contents(serial));
  return { issuer: Buffer.from(ber.bytes(issuer)), serial: serialBytes, serialHex: serialHex(serialBytes) };
}

/** OpenSSL drops the sign octet of a positive serial (0x00 before a high bit), not nibbles. */
export function serialHex(serial: Buffer): string {
  let start = 0;
  while (start < serial.length - 1 && serial[start] === 0) start++;
  return serial.subarray(start).toString('hex').toUpperCase();
}
