/**
 * References to certificates as CMS writes them (IssuerAndSerialNumber,
 * ESSCertIDv2). Verifiers match the issuer Name byte for byte (NSS) or
 * after canonicalisation (OpenSSL), so the Name and serial are copied from
 * the certificate's own DER, never re-encoded from a parsed model.
 */
import { createHash, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import { octetString, sequence, tlv, TAG } from './der.js';
import { memoByCertificate } from '../pki/memo.js';

export interface CertificateRef {
  /** The certificate, DER. */
  readonly der: Buffer;
  /** tbsCertificate.issuer as encoded in the certificate. */
  readonly issuer: Buffer;
  /** tbsCertificate.serialNumber, the full INTEGER encoding. */
  readonly serialNumber: Buffer;
  /** tbsCertificate.subject as encoded in the certificate. */
  readonly subject: Buffer;
}

/** The references of a certificate (memoised: the same few certificates sign every message). */
export const certificateRef = memoByCertificate(parseCertificateRef);

function parseCertificateRef(der: Buffer): CertificateRef {
  const parsed = asn1js.fromBER(new Uint8Array(der.buffer, der.byteOffset, der.byteLength));
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) throw new Error('certificate is not DER');
  const tbs = parsed.result.valueBlock.value[0];
  if (!(tbs instanceof asn1js.Sequence)) throw new Error('certificate has no tbsCertificate');
  const fields = tbs.valueBlock.value;
  // version is [0] EXPLICIT and absent for v1 certificates.
  const first = fields[0];
  const start = first && first.idBlock.tagClass === 3 && first.idBlock.tagNumber === 0 ? 1 : 0;
  const serial = fields[start];
  const issuer = fields[start + 2];
  const subject = fields[start + 4];
  if (!(serial instanceof asn1js.Integer) || !(issuer instanceof asn1js.Sequence) || !(subject instanceof asn1js.Sequence)) {
    throw new Error('certificate tbsCertificate is malformed');
  }
  return {
    der,
    serialNumber: Buffer.from(serial.valueBeforeDecodeView),
    issuer: Buffer.from(issuer.valueBeforeDecodeView),
    subject: Buffer.from(subject.valueBeforeDecodeView),
  };
}

/** IssuerAndSerialNumber (RFC 5652 10.2.4), optionally IMPLICIT-retagged (e.g. [0] in SMIMEEncryptionKeyPreference). */
export function issuerAndSerialNumber(ref: CertificateRef, tag: number = TAG.SEQUENCE): Buffer {
  return tlv(tag, ref.issuer, ref.serialNumber);
}

/**
 * ESSCertIDv2 (RFC 5035): hashAlgorithm is omitted because it equals the
 * DEFAULT id-sha256 (DER leaves out default values); issuerSerial names
 * the issuer as a directoryName GeneralName ([4] EXPLICIT, Name is a CHOICE).
 */
export function essCertIdV2(ref: CertificateRef): Buffer {
  const certHash = createHash('sha256').update(ref.der).digest();
  const issuerSerial = sequence(sequence(tlv(TAG.CONTEXT_4, ref.issuer)), ref.serialNumber);
  return sequence(octetString(certHash), issuerSerial);
}

/** True for a self-signed certificate (a root): it names itself as issuer and its own key verifies it. */
export const isSelfSigned = memoByCertificate((der: Buffer): boolean => {
  const cert = new X509Certificate(der);
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
});
