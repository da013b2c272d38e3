/**
 * Reads one SignerInfo (RFC 5652 5.3) with the bounded BER reader, strictly:
 *
 *   SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm,
 *     signedAttrs [0] IMPLICIT SET OF Attribute OPTIONAL, signatureAlgorithm,
 *     signature OCTET STRING, unsignedAttrs [1] IMPLICIT SET OF Attribute OPTIONAL }
 *
 * Only the signed attributes are covered by the signature; every other
 * field can be altered in transit, so any deviation from the syntax is
 * refused (BerError -> permerror) instead of being read past. The version
 * must be 1 or 3; RFC 5652 5.3 pairs 1 with issuerAndSerialNumber and 3 with
 * subjectKeyIdentifier, but the sid itself says which form it is, and a
 * sender that pairs them wrongly has still signed correctly, so the pairing
 * is not enforced. BER (indefinite lengths, constructed OCTET STRINGs in the
 * sid) is accepted: gpgsm and NSS write it.
 */
import { BerError, BerReader, expectTag, type BerNode } from './ber-reader.js';
import { decodeOid, decodeSmallInteger } from './ber-values.js';
import { readAttributeSet, readSignedAttributes, type SignedAttributesView } from './read-signed-attributes.js';

export type SignerId = { readonly kind: 'issuerSerial'; readonly issuer: Buffer; readonly serial: Buffer } | { readonly kind: 'ski'; readonly ski: Buffer };

export interface AlgorithmIdentifier {
  readonly oid: string;
  /** The parameters' TLV as received, when present. */
  readonly params?: Buffer;
}

export interface SignerInfoFields {
  readonly version: 1 | 3;
  readonly sid: SignerId;
  readonly digestAlgorithm: AlgorithmIdentifier;
  readonly attributes?: SignedAttributesView;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly signature: Buffer;
}

const TAG = { INTEGER: 0x02, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06, SEQUENCE: 0x30, SET: 0x31, SKI: 0x80, SKI_CONSTRUCTED: 0xa0, SIGNED_ATTRS: 0xa0, UNSIGNED_ATTRS: 0xa1 } as const;

/** A SignerInfo has at most 7 fields; the reader stops counting beyond. */
const MAX_FIELDS = 7;

export function readSignerInfo(ber: BerReader, node: BerNode): SignerInfoFields {
  const fields = ber.children(expectTag(node, TAG.SEQUENCE, 'SignerInfo'), MAX_FIELDS, 2);
  const [versionNode, sidNode, digestNode] = fields;
  const version = decodeSmallInteger(ber.contents(expectTag(versionNode, TAG.INTEGER, 'SignerInfo version')));
  if (version !== 1 && version !== 3) throw new BerError(`SignerInfo version ${version} (RFC 5652 knows 1 and 3)`);
  const sid = readSid(ber, sidNode);
  const digestAlgorithm = readAlgorithm(ber, digestNode, 'digestAlgorithm');
  let index = 3;
  let attributes: SignedAttributesView | undefined;
  if (fields[index]?.tag === TAG.SIGNED_ATTRS) {
    attributes = readSignedAttributes(ber.bytes(fields[index] as BerNode));
    index++;
  }
  const signatureAlgorithm = readAlgorithm(ber, fields[index], 'signatureAlgorithm');
  // A primitive OCTET STRING: nothing else in RFC 5652 or any signer we know.
  const signature = ber.contents(expectTag(fields[index + 1], TAG.OCTET_STRING, 'signature'));
  index += 2;
  if (fields[index]?.tag === TAG.UNSIGNED_ATTRS) {
    readAttributeSet(ber, fields[index] as BerNode);
    index++;
  }
  if (index !== fields.length) throw new BerError('SignerInfo has fields after the signature and unsignedAttrs');
  return { version, sid, digestAlgorithm, ...(attributes ? { attributes } : {}), signatureAlgorithm, signature };
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }, nothing else. */
export function readAlgorithm(ber: BerReader, node: BerNode | undefined, what: string): AlgorithmIdentifier {
  const parts = ber.children(expectTag(node, TAG.SEQUENCE, what), 2, 3);
  const oid = decodeOid(ber.contents(expectTag(parts[0], TAG.OID, `${what} OID`)));
  const params = parts[1];
  return params ? { oid, params: ber.bytes(params) } : { oid };
}

/** Parameters that must be absent or NULL (SHA-2 digests, RFC 5754 2; rsaEncryption and ECDSA signatures). */
export function absentOrNull(algorithm: AlgorithmIdentifier): boolean {
  const params = algorithm.params;
  return params === undefined || (params.length === 2 && params[0] === TAG.NULL && params[1] === 0);
}

function readSid(ber: BerReader, node: BerNode | undefined): SignerId {
  if (node?.tag === TAG.SEQUENCE) {
    const parts = ber.children(node, 2, 3);
    if (parts.length !== 2) throw new BerError('issuerAndSerialNumber is not { Name, INTEGER }');
    const issuer = expectTag(parts[0], TAG.SEQUENCE, 'issuer Name');
    const serial = expectTag(parts[1], TAG.INTEGER, 'serialNumber');
    if (serial.contentEnd === serial.contentStart) throw new BerError('empty serialNumber');
    // The serial as received: identification compares it with the certificate's octets.
    return { kind: 'issuerSerial', issuer: ber.bytes(issuer), serial: ber.contents(serial) };
  }
  // subjectKeyIdentifier [0] IMPLICIT OCTET STRING: primitive, or constructed from OCTET STRING segments in BER.
  if (node?.tag === TAG.SKI) return { kind: 'ski', ski: ber.contents(node) };
  if (node?.tag === TAG.SKI_CONSTRUCTED) return { kind: 'ski', ski: Buffer.concat(ber.children(node, 64, 3).map((part) => ber.octets(part, 3))) };
  throw new BerError('SignerIdentifier is neither issuerAndSerialNumber nor subjectKeyIdentifier');
}

/** DirectoryString choices (RFC 5280 4.1.2.4) and IA5String (emailAddress, domainComponent). */
const NAME_STRING_TAGS = new Set([0x0c, 0x13, 0x14, 0x16, 0x1c, 0x1e]);

/**
 * Whether `encoded` is exactly one Name: SEQUENCE OF non-empty SET OF
 * SEQUENCE { OID, string }, each length exact. Only such a name may be
 * matched loosely (RFC 5280 7.1: string type and case) against a
 * certificate's issuer; anything else must match byte for byte.
 */
export function isPlainName(encoded: Buffer): boolean {
  try {
    const ber = new BerReader(encoded);
    const name = ber.read(0, encoded.length, 0);
    if (name.tag !== TAG.SEQUENCE || name.end !== encoded.length) return false;
    for (const rdn of ber.children(name, 64, 1)) {
      const attributes = ber.children(expectTag(rdn, TAG.SET, 'RDN'), 16, 2);
      if (attributes.length === 0) return false;
      for (const attribute of attributes) {
        const [type, value, ...extra] = ber.children(expectTag(attribute, TAG.SEQUENCE, 'AttributeTypeAndValue'), 2, 3);
        if (!type || !value || extra.length > 0 || !NAME_STRING_TAGS.has(value.tag)) return false;
        decodeOid(ber.contents(expectTag(type, TAG.OID, 'attribute type')));
      }
    }
    return true;
  } catch {
    return false;
  }
}

export interface PssParams {
  readonly hashOid: string;
  readonly mgfHashOid: string;
  readonly saltLength: number;
}

const SHA1 = '1.3.14.3.2.26';
const MGF1 = '1.2.840.113549.1.1.8';

/**
 * RSASSA-PSS-params (RFC 4055 3.1): SEQUENCE { [0] hashAlgorithm, [1]
 * maskGenAlgorithm (MGF1 with a hash), [2] saltLength, [3] trailerField (1) },
 * each optional, in that order; defaults SHA-1, MGF1-SHA-1, 20, 1.
 */
export function readPssParams(params: Buffer | undefined): PssParams {
  if (params === undefined) throw new BerError('RSASSA-PSS without parameters');
  const ber = new BerReader(params);
  const top = ber.read(0, params.length, 0);
  if (top.end !== params.length) throw new BerError('bytes after RSASSA-PSS-params');
  let hashOid = SHA1;
  let mgfHashOid = SHA1;
  let saltLength = 20;
  let last = -1;
  for (const field of ber.children(expectTag(top, TAG.SEQUENCE, 'RSASSA-PSS-params'), 4, 1)) {
    const number = field.tag - 0xa0;
    if (number < 0 || number > 3 || number <= last) throw new BerError('RSASSA-PSS-params field out of order or unknown');
    last = number;
    const inner = ber.children(field, 1, 2);
    if (inner.length !== 1) throw new BerError('RSASSA-PSS-params field is not one explicit value');
    const value = inner[0] as BerNode;
    if (number === 0) hashOid = readDigest(ber, value, 'PSS hashAlgorithm');
    else if (number === 1) {
      const mgf = readAlgorithm(ber, value, 'PSS maskGenAlgorithm');
      if (mgf.oid !== MGF1 || mgf.params === undefined) throw new BerError('PSS mask generation is not MGF1 with a hash');
      const mgfBer = new BerReader(mgf.params);
      const mgfNode = mgfBer.read(0, mgf.params.length, 2);
      if (mgfNode.end !== mgf.params.length) throw new BerError('bytes after the MGF1 hash');
      mgfHashOid = readDigest(mgfBer, mgfNode, 'MGF1 hash');
    } else if (number === 2) saltLength = decodeSmallInteger(ber.contents(expectTag(value, TAG.INTEGER, 'PSS saltLength')));
    else if (decodeSmallInteger(ber.contents(expectTag(value, TAG.INTEGER, 'PSS trailerField'))) !== 1) throw new BerError('PSS trailerField other than 1');
  }
  if (saltLength > 1024) throw new BerError('RSA-PSS salt length out of range');
  return { hashOid, mgfHashOid, saltLength };
}

function readDigest(ber: BerReader, node: BerNode, what: string): string {
  const algorithm = readAlgorithm(ber, node, what);
  if (!absentOrNull(algorithm)) throw new BerError(`${what} with parameters`);
  return algorithm.oid;
}
