/**
 * AlgorithmIdentifier encodings for signing, and the choice of signature
 * algorithm from the private key. Kept apart from the SignedData layout so
 * that parameter-encoding decisions (absent vs NULL) sit in one place.
 */
import type { KeyObject } from 'node:crypto';
import { NULL, oid, sequence, tlv } from './der.js';
import { OID } from './oids.js';

/**
 * sha256 with parameters absent: RFC 5754 section 2 says implementations
 * MUST generate SHA-2 identifiers without parameters (and MUST accept both
 * forms). OpenSSL, NSS and gpgsm write it this way; Outlook/CryptoAPI reads it.
 */
export const SHA256_ALGORITHM = sequence(oid(OID.sha256));

/** How the signature value is produced and labelled for a key. */
export interface SignatureAlgorithm {
  /** DER AlgorithmIdentifier for SignerInfo.signatureAlgorithm. */
  readonly identifier: Buffer;
  /** Digest name for node:crypto sign(). */
  readonly digest: 'sha256';
}

/** RSA PKCS #1 v1.5: rsaEncryption with NULL parameters (RFC 3370 3.2), exactly as OpenSSL writes it. */
const RSA_SHA256: SignatureAlgorithm = { identifier: sequence(oid(OID.rsaEncryption), NULL), digest: 'sha256' };

/** ECDSA: ecdsa-with-SHA256, parameters absent (RFC 5758 3.2); the value is a DER Ecdsa-Sig-Value. */
const ECDSA_SHA256: SignatureAlgorithm = { identifier: sequence(oid(OID.ecdsaWithSha256)), digest: 'sha256' };

export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  if (key.type !== 'private') throw new Error('signing needs a private key');
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return RSA_SHA256;
    case 'ec':
      return ECDSA_SHA256;
    default:
      throw new Error(`unsupported signing key type ${key.asymmetricKeyType ?? 'unknown'}`);
  }
}

/** sha256 as used inside RSAES-OAEP-params: NULL parameters, as RFC 4055 2.1 prescribes there. */
const SHA256_WITH_NULL = sequence(oid(OID.sha256), NULL);

/**
 * RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 4055 rSAES-OAEP-SHA256-Identifier).
 * As an SMIMECapability the parameters name the non-default hash (RFC 3560
 * section 5); advertising bare OAEP would mean SHA-1.
 */
const RSAES_OAEP_SHA256 = sequence(
  oid(OID.rsaesOaep),
  sequence(tlv(0xa0, SHA256_WITH_NULL), tlv(0xa1, sequence(oid(OID.mgf1), SHA256_WITH_NULL))),
);

/**
 * SMIMECapabilities we can decrypt, strongest first: RFC 8551 2.5.2 reads
 * the list as ordered by preference. AES capabilities carry no parameters
 * (RFC 3565 section 5, RFC 5084 section 5). GCM comes first because it is
 * authenticated (AuthEnvelopedData, RFC 5083); CBC stays for Outlook and
 * older clients that do not write AuthEnvelopedData.
 */
export const SMIME_CAPABILITIES: readonly Buffer[] = [
  sequence(oid(OID.aes256Gcm)),
  sequence(oid(OID.aes128Gcm)),
  sequence(oid(OID.aes256Cbc)),
  sequence(oid(OID.aes192Cbc)),
  sequence(oid(OID.aes128Cbc)),
  RSAES_OAEP_SHA256,
];
