/**
 * OCSP requests (RFC 6960 section 4.1) for one certificate, with a nonce
 * (RFC 8954: 32 random octets).
 *
 * CertID hash: SHA-1. The CertID only names the certificate; the
 * response's signature is what is relied on, so SHA-1's collisions do not
 * matter here, and SHA-1 is the one algorithm every responder accepts: RFC
 * 5019 (the profile of high-volume responders) requires it, and responders
 * that index their answers by SHA-1 CertIDs (and precomputed responses)
 * answer other hashes with 'unknown' or malformedRequest. Trying SHA-256
 * first would cost a second round trip with such responders for nothing.
 * Responses are matched with whatever hash algorithm they use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { NULL, octetString, oid, sequence, tlv } from '../../smime/der.js';
import { certificateFields } from './certificate-fields.js';

export const OID_SHA1 = '1.3.14.3.2.26';
export const OID_NONCE = '1.3.6.1.5.5.7.48.1.2';
const NONCE_LENGTH = 32;

export interface CertId {
  readonly hashOid: string;
  readonly issuerNameHash: Buffer;
  readonly issuerKeyHash: Buffer;
  /** INTEGER contents as in the certificate. */
  readonly serial: Buffer;
}

export interface OcspRequest {
  readonly der: Buffer;
  readonly certId: CertId;
  /** The nonce extension's extnValue contents as sent (an encoded OCTET STRING). */
  readonly nonceValue: Buffer;
}

const HASH_NAMES: Readonly<Record<string, string>> = {
  [OID_SHA1]: 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** The CertID of `certificate` under `issuer` with the given hash; undefined for a hash not known here. */
export function certIdOf(certificate: Buffer, issuer: Buffer, hashOid: string = OID_SHA1): CertId | undefined {
  const hashes = issuerHashes(issuer, hashOid);
  return hashes && { ...hashes, serial: certificateFields(certificate).serial };
}

/** The issuer half of a CertID; undefined for a hash not known here. */
export function issuerHashes(issuer: Buffer, hashOid: string): Omit<CertId, 'serial'> | undefined {
  const name = HASH_NAMES[hashOid];
  if (!name) return undefined;
  const issuerFields = certificateFields(issuer);
  return {
    hashOid,
    issuerNameHash: createHash(name).update(issuerFields.subjectName).digest(),
    issuerKeyHash: createHash(name).update(issuerFields.publicKeyBits).digest(),
  };
}

export function buildOcspRequest(certificate: Buffer, issuer: Buffer): OcspRequest {
  const certId = certIdOf(certificate, issuer) as CertId;
  const nonceValue = octetString(randomBytes(NONCE_LENGTH));
  const certIdDer = sequence(sequence(oid(certId.hashOid), NULL), octetString(certId.issuerNameHash), octetString(certId.issuerKeyHash), tlv(0x02, certId.serial));
  const nonceExtension = sequence(oid(OID_NONCE), octetString(nonceValue));
  // TBSRequest: requestList, then requestExtensions [2] EXPLICIT.
  const tbsRequest = sequence(sequence(sequence(certIdDer)), tlv(0xa2, sequence(nonceExtension)));
  return { der: sequence(tbsRequest), certId, nonceValue };
}
