/**
 * A certificate as plain data: what the keystore validates on import and
 * what `siegel certs` shows. Names, serial, dates and the key come from
 * node:crypto (OpenSSL's reading); the extensions from pkijs.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';
import { memoByCertificate } from './memo.js';
import { arrayBufferOf } from './bytes.js';
import {
  OID,
  dnEmailsOf,
  extendedKeyUsageOf,
  isCaOf,
  keyUsageOf,
  sanEmailsOf,
  type KeyUsageFlags,
} from './certificate-extensions.js';

export type { KeyUsageFlags, KeyUsageName } from './certificate-extensions.js';

export interface PublicKeyInfo {
  /** node:crypto's asymmetricKeyType: 'rsa', 'rsa-pss', 'ec', 'ed25519', 'x25519', ... */
  readonly algorithm: string;
  /** RSA modulus length in bits, or the curve's field size for EC keys. */
  readonly bits: number | undefined;
  /** NIST name where one exists ('P-256'), else OpenSSL's curve name. */
  readonly curve: string | undefined;
}

export interface CertificateInfo {
  /** RFC 4514 order (most specific first), e.g. "CN=Poststelle,O=Stadt,C=DE". */
  readonly subject: string;
  readonly issuer: string;
  /** Upper-case hex as OpenSSL prints it. */
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 over the DER, lower-case hex without separators; also the identity id. */
  readonly sha256: string;
  /** rfc822Name subjectAltNames, lower-cased: the addresses RFC 8550 matches against. */
  readonly emailAddresses: readonly string[];
  /**
   * emailAddress attributes of the subject DN that are not also in
   * subjectAltName: a legacy fallback, shown for diagnosis, never matched.
   */
  readonly legacyEmailAddresses: readonly string[];
  /** undefined when the extension is absent (every usage allowed). */
  readonly keyUsage: KeyUsageFlags | undefined;
  /** undefined when the extension is absent (any purpose). */
  readonly extendedKeyUsage: readonly string[] | undefined;
  readonly isCA: boolean;
  readonly publicKey: PublicKeyInfo;
  readonly selfIssued: boolean;
}

const CURVE_NAMES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
  brainpoolP256r1: { name: 'brainpoolP256r1', bits: 256 },
  brainpoolP384r1: { name: 'brainpoolP384r1', bits: 384 },
  brainpoolP512r1: { name: 'brainpoolP512r1', bits: 512 },
};

/** The certificate's public key, memoised by content (a KeyObject is immutable); throws for bytes that are not a certificate. */
export const certificatePublicKey: (der: Buffer) => KeyObject = memoByCertificate((der) => new X509Certificate(der).publicKey);

/**
 * Memoised by content (see memo.ts): the result is immutable and the same
 * certificates arrive with every message. Throws (plain Error) when the
 * bytes are not a DER X.509 certificate.
 */
export const parseCertificate: (der: Buffer) => CertificateInfo = memoByCertificate(parseCertificateUncached);

function parseCertificateUncached(der: Buffer): CertificateInfo {
  const x509 = new X509Certificate(der);
  const cert = pkijs.Certificate.fromBER(arrayBufferOf(der));
  const san = sanEmailsOf(cert);
  const legacy = dnEmailsOf(cert).filter((email) => !san.includes(email));
  return {
    subject: rfc4514(x509.subject),
    issuer: rfc4514(x509.issuer),
    serialHex: x509.serialNumber.toUpperCase(),
    notBefore: x509.validFromDate,
    notAfter: x509.validToDate,
    sha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
    emailAddresses: [...new Set(san)],
    legacyEmailAddresses: [...new Set(legacy)],
    keyUsage: keyUsageOf(cert),
    extendedKeyUsage: extendedKeyUsageOf(cert),
    isCA: isCaOf(cert),
    publicKey: publicKeyOf(x509),
    selfIssued: x509.subject === x509.issuer,
  };
}

/**
 * node:crypto prints names one RDN per line, outermost first, values
 * already escaped per RFC 2253; RFC 4514 wants them reversed, comma-joined.
 */
function rfc4514(multiline: string): string {
  return multiline
    .split('\n')
    .filter((rdn) => rdn.length > 0)
    .reverse()
    .map((rdn) => rdn.replace(/ \+ /g, '+'))
    .join(',');
}

function publicKeyOf(x509: X509Certificate): PublicKeyInfo {
  const key = x509.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  const algorithm = key.asymmetricKeyType ?? 'unknown';
  if (algorithm === 'ec') {
    const known = details.namedCurve === undefined ? undefined : CURVE_NAMES[details.namedCurve];
    return { algorithm, bits: known?.bits, curve: known?.name ?? details.namedCurve };
  }
  if (algorithm === 'ed25519' || algorithm === 'x25519') return { algorithm, bits: 256, curve: undefined };
  if (algorithm === 'ed448' || algorithm === 'x448') return { algorithm, bits: 448, curve: undefined };
  return { algorithm, bits: details.modulusLength, curve: undefined };
}

/** "RSA-3072", "EC P-256", "ED25519" for display. */
export function describePublicKey(key: PublicKeyInfo): string {
  if (key.algorithm === 'ec') return `EC ${key.curve ?? 'unknown curve'}`;
  if (key.algorithm === 'rsa' || key.algorithm === 'rsa-pss') return `${key.algorithm.toUpperCase()}-${key.bits ?? '?'}`;
  return key.algorithm.toUpperCase();
}

/** RFC 8550 section 4.4.2: signing needs digitalSignature and/or nonRepudiation. */
export function canSign(info: CertificateInfo): boolean {
  if (['x25519', 'x448'].includes(info.publicKey.algorithm)) return false;
  const ku = info.keyUsage;
  return ku === undefined || ku.digitalSignature || ku.nonRepudiation;
}

/**
 * Key transport (RSA: keyEncipherment) or key agreement (EC/X25519:
 * keyAgreement), as RFC 8550 section 4.4.2 asks; a sign-only certificate
 * must never be used to encrypt to.
 */
export function canEncrypt(info: CertificateInfo): boolean {
  const algorithm = info.publicKey.algorithm;
  const ku = info.keyUsage;
  if (algorithm === 'rsa') return ku === undefined || ku.keyEncipherment;
  if (algorithm === 'ec' || algorithm === 'x25519' || algorithm === 'x448') return ku === undefined || ku.keyAgreement;
  // RSA-PSS and EdDSA keys are signature-only.
  return false;
}

/** extendedKeyUsage absent, emailProtection or anyExtendedKeyUsage (RFC 8550 section 4.4.4). */
export function allowsEmailProtection(info: CertificateInfo): boolean {
  const eku = info.extendedKeyUsage;
  return eku === undefined || eku.includes(OID.emailProtection) || eku.includes(OID.anyExtendedKeyUsage);
}

/** Roles a mailbox certificate can take, derived from keyUsage and the key type. */
export type CertificateRole = 'sign' | 'encrypt' | 'both';

export function roleOf(info: CertificateInfo): CertificateRole | undefined {
  const sign = canSign(info);
  const encrypt = canEncrypt(info);
  return sign && encrypt ? 'both' : sign ? 'sign' : encrypt ? 'encrypt' : undefined;
}

export function isValidAt(info: Pick<CertificateInfo, 'notBefore' | 'notAfter'>, at: Date): boolean {
  return info.notBefore.getTime() <= at.getTime() && at.getTime() <= info.notAfter.getTime();
}

/** Why a certificate may not be used to encrypt mail to an address (see encryptionUnfitness). */
export type EncryptionUnfitness = 'ca' | 'other-address' | 'sign-only' | 'not-email' | 'not-valid';

/**
 * The one rule for encrypting to `address` with this certificate at `at`,
 * shared by harvesting, directory look-ups and `siegel certs import` (each
 * words its own message): an end-entity certificate that names the address
 * in subjectAltName, allows key transport or agreement (never a sign-only
 * certificate), allows emailProtection and is valid then. undefined: usable.
 * `address` is compared as given (callers pass it lower-cased).
 */
export function encryptionUnfitness(info: CertificateInfo, address: string, at: Date): EncryptionUnfitness | undefined {
  if (info.isCA) return 'ca';
  if (!info.emailAddresses.includes(address)) return 'other-address';
  if (!canEncrypt(info)) return 'sign-only';
  if (!allowsEmailProtection(info)) return 'not-email';
  if (!isValidAt(info, at)) return 'not-valid';
  return undefined;
}
