/**
 * Reads the signed attributes of an inbound SignerInfo (RFC 5652 5.3,
 * RFC 8551 2.5). The attribute octets are kept as received: the signature
 * covers their DER with the [0] tag replaced by SET, and re-encoding a
 * parsed structure could change bytes a sloppy signer wrote.
 */
import * as asn1js from 'asn1js';
import { OID } from './oids.js';

export interface RawAttribute {
  readonly type: string;
  readonly values: readonly asn1js.AsnType[];
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

/** Throws a plain Error on a structure that is not a SET OF Attribute; the caller maps it to permerror. */
export function readSignedAttributes(node: asn1js.AsnType): SignedAttributesView {
  if (!(node instanceof asn1js.Constructed) && !(node instanceof asn1js.Set)) throw new Error('signedAttrs is not constructed');
  const raw = Buffer.from(node.valueBeforeDecodeView);
  if (raw.length === 0 || raw[0] !== 0xa0) throw new Error('signedAttrs does not start with [0]');
  const signedBytes = Buffer.concat([Buffer.from([0x31]), raw.subarray(1)]);
  const attributes: RawAttribute[] = [];
  for (const element of node.valueBlock.value) {
    if (!(element instanceof asn1js.Sequence)) throw new Error('attribute is not a SEQUENCE');
    const [type, values] = element.valueBlock.value;
    if (!(type instanceof asn1js.ObjectIdentifier) || !(values instanceof asn1js.Set)) throw new Error('attribute is not { OID, SET }');
    attributes.push({ type: type.valueBlock.toString(), values: values.valueBlock.value });
  }
  const single = (oid: string): asn1js.AsnType | undefined => {
    const matches = attributes.filter((a) => a.type === oid);
    if (matches.length === 0) return undefined;
    // RFC 5652 5.3: these attributes occur once with exactly one value.
    if (matches.length > 1 || matches[0]?.values.length !== 1) throw new Error(`attribute ${oid} must occur once with one value`);
    return matches[0].values[0];
  };
  const contentType = single(OID.contentType);
  if (contentType !== undefined && !(contentType instanceof asn1js.ObjectIdentifier)) throw new Error('contentType is not an OID');
  const digest = single(OID.messageDigest);
  if (digest !== undefined && !(digest instanceof asn1js.OctetString)) throw new Error('messageDigest is not an OCTET STRING');
  return {
    signedBytes,
    attributes,
    ...(contentType ? { contentType: contentType.valueBlock.toString() } : {}),
    ...(digest ? { messageDigest: octets(digest) } : {}),
    ...optional('signingTime', readTime(single(OID.signingTime))),
    ...optional('smimeCapabilities', readCapabilities(single(OID.smimeCapabilities))),
    ...optional('encryptionKeyPreference', readKeyPreference(single(OID.smimeEncryptionKeyPreference), single(OID.microsoftEncryptionKeyPreference))),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** Primitive or (BER) constructed OCTET STRING contents. */
export function octets(node: asn1js.OctetString): Buffer {
  if (!node.valueBlock.isConstructed) return Buffer.from(node.valueBlock.valueHexView);
  return Buffer.concat(node.valueBlock.value.map((part) => (part instanceof asn1js.OctetString ? octets(part) : Buffer.alloc(0))));
}

/** An unreadable signingTime is ignored rather than fatal: it is informational, the path check then uses `at` only. */
function readTime(node: asn1js.AsnType | undefined): Date | undefined {
  if (node instanceof asn1js.UTCTime || node instanceof asn1js.GeneralizedTime) {
    const date = node.toDate();
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

function readCapabilities(node: asn1js.AsnType | undefined): string[] | undefined {
  if (!(node instanceof asn1js.Sequence)) return undefined;
  const oids: string[] = [];
  for (const capability of node.valueBlock.value) {
    const first = capability instanceof asn1js.Sequence ? capability.valueBlock.value[0] : undefined;
    if (first instanceof asn1js.ObjectIdentifier) oids.push(first.valueBlock.toString());
  }
  return oids;
}

/**
 * RFC 8551: SMIMEEncryptionKeyPreference ::= CHOICE { issuerAndSerialNumber [0] IMPLICIT ..., ... };
 * Microsoft's attribute carries a plain IssuerAndSerialNumber. Only the
 * issuer-and-serial form names a certificate we can look up; others are ignored.
 */
function readKeyPreference(rfc: asn1js.AsnType | undefined, microsoft: asn1js.AsnType | undefined): EncryptionKeyPreference | undefined {
  if (rfc instanceof asn1js.Constructed && rfc.idBlock.tagClass === 3 && rfc.idBlock.tagNumber === 0) {
    const found = issuerAndSerial(rfc.valueBlock.value);
    if (found) return found;
  }
  if (microsoft instanceof asn1js.Sequence) return issuerAndSerial(microsoft.valueBlock.value);
  return undefined;
}

function issuerAndSerial(parts: readonly asn1js.AsnType[]): EncryptionKeyPreference | undefined {
  const [issuer, serial] = parts;
  if (!(issuer instanceof asn1js.Sequence) || !(serial instanceof asn1js.Integer)) return undefined;
  const serialBytes = Buffer.from(serial.valueBlock.valueHexView);
  return { issuer: Buffer.from(issuer.valueBeforeDecodeView), serial: serialBytes, serialHex: serialHex(serialBytes) };
}

/** OpenSSL drops the sign octet of a positive serial (0x00 before a high bit), not nibbles. */
export function serialHex(serial: Buffer): string {
  let start = 0;
  while (start < serial.length - 1 && serial[start] === 0) start++;
  return serial.subarray(start).toString('hex').toUpperCase();
}
