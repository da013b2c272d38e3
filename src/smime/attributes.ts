/**
 * The signed attributes of an S/MIME SignerInfo (RFC 5652 5.3, RFC 8551
 * 2.5). The signature covers their DER SET OF encoding, and SignerInfo
 * carries the same octets under [0] IMPLICIT; strict verifiers (Bouncy
 * Castle, Outlook) re-encode and sort before checking, so the set is
 * DER-sorted here (pkijs does not sort).
 */
import { SMIME_CAPABILITIES } from './algorithms.js';
import { essCertIdV2, issuerAndSerialNumber, type CertificateRef } from './certificate-ref.js';
import { octetString, oid, sequence, setOf, TAG, time } from './der.js';
import { OID } from './oids.js';

export interface SignedAttributes {
  /** DER `SET OF Attribute` (tag 0x31): the octets the signature is computed over (RFC 5652 5.4). */
  readonly signedBytes: Buffer;
  /** The identical octets tagged [0] for SignerInfo.signedAttrs. */
  readonly signerInfoField: Buffer;
}

function attribute(type: string, value: Buffer): Buffer {
  return sequence(oid(type), setOf([value]));
}

/**
 * The attributes that are the same for every message of one identity
 * (encoded once per identity, see signer-template.ts). `encryptionCertificate`
 * is the certificate partners should encrypt replies to; without it, no
 * preference attributes.
 */
export function staticSignedAttributes(signer: CertificateRef, encryptionCertificate: CertificateRef | undefined): Buffer[] {
  const attributes = [
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.smimeCapabilities, sequence(...SMIME_CAPABILITIES)),
    // SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }: binds the signer
    // certificate into the signature (RFC 5035) against certificate substitution; CAdES
    // verifiers check it, others (OpenSSL 3.0 cms, gpgsm, NSS) ignore it.
    attribute(OID.signingCertificateV2, sequence(sequence(essCertIdV2(signer)))),
  ];
  if (encryptionCertificate) {
    // SMIMEEncryptionKeyPreference is a CHOICE in an IMPLICIT TAGS module:
    // issuerAndSerialNumber [0] replaces the SEQUENCE tag (RFC 8551 2.5.3).
    attributes.push(attribute(OID.smimeEncryptionKeyPreference, issuerAndSerialNumber(encryptionCertificate, TAG.CONTEXT_0)));
    // Outlook ignores the standard attribute and reads Microsoft's, a plain IssuerAndSerialNumber.
    attributes.push(attribute(OID.microsoftEncryptionKeyPreference, issuerAndSerialNumber(encryptionCertificate)));
  }
  return attributes;
}

/** The complete signed attributes of one message: the identity's static ones plus signingTime and messageDigest (SHA-256 of the content). */
export function signedAttributes(staticAttributes: readonly Buffer[], message: { readonly messageDigest: Buffer; readonly signingTime: Date }): SignedAttributes {
  const signedBytes = setOf([
    ...staticAttributes,
    attribute(OID.signingTime, time(message.signingTime)),
    attribute(OID.messageDigest, octetString(message.messageDigest)),
  ]);
  // Same octets, only the identifier changes: [0] IMPLICIT SET OF (RFC 5652 5.3).
  const signerInfoField = Buffer.concat([Buffer.from([TAG.CONTEXT_0]), signedBytes.subarray(1)]);
  return { signedBytes, signerInfoField };
}
