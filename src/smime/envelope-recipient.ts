/**
 * How a certificate is named inside a RecipientInfo: IssuerAndSerialNumber
 * (what everyone writes) or SubjectKeyIdentifier (what some clients write
 * for EC keys and OpenSSL writes with -keyid).
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { arrayBufferOf } from '../pki/bytes.js';
import { certificateRef } from './certificate-ref.js';
import { ENV_OID } from './envelope-oids.js';
import type { IssuerSerial } from './envelope-asn1.js';

export interface RecipientIds {
  readonly issuer: Buffer;
  readonly serialNumber: Buffer;
  /** The subjectKeyIdentifier extension value, when the certificate has one. */
  readonly subjectKeyIdentifier: Buffer | undefined;
}

export function recipientIds(certificate: Buffer): RecipientIds {
  const ref = certificateRef(certificate);
  return { issuer: ref.issuer, serialNumber: ref.serialNumber, subjectKeyIdentifier: subjectKeyIdentifierOf(certificate) };
}

function subjectKeyIdentifierOf(certificate: Buffer): Buffer | undefined {
  const cert = pkijs.Certificate.fromBER(arrayBufferOf(certificate));
  const extension = cert.extensions?.find((ext) => ext.extnID === ENV_OID.subjectKeyIdentifier);
  if (!extension) return undefined;
  const parsed = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView);
  return parsed.result instanceof asn1js.OctetString ? Buffer.from(parsed.result.valueBlock.valueHexView) : undefined;
}

export function matchesIssuerSerial(ids: RecipientIds, rid: IssuerSerial): boolean {
  // Byte comparison of the Name: senders copy it from the certificate (RFC 5652 10.2.4).
  return ids.issuer.equals(rid.issuer) && ids.serialNumber.equals(rid.serialNumber);
}

export function matchesKeyIdentifier(ids: RecipientIds, keyId: Buffer): boolean {
  return ids.subjectKeyIdentifier !== undefined && ids.subjectKeyIdentifier.equals(keyId);
}
