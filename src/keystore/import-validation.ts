/**
 * The checks an identity passes before it is stored. Each rejection names
 * the certificate and the problem, so an administrator can tell the CA or
 * the colleague who exported the file what is wrong.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { SiegelError } from '../errors.js';
import {
  allowsEmailProtection,
  parseCertificate,
  roleOf,
  type CertificateInfo,
  type CertificateRole,
  type KeyUsageName,
} from '../pki/certificate-info.js';
import { matchesKey } from '../pki/key-material.js';

const MIN_RSA_BITS = 2048;

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '1.3.6.1.4.1.311.20.2.2': 'smartcardLogon',
};

export interface ValidatedImport {
  readonly info: CertificateInfo;
  readonly role: CertificateRole;
}

export function normalizeMailbox(input: string): string {
  const mailbox = input.trim().toLowerCase();
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(mailbox)) {
    throw new SiegelError('ENROLL_REJECTED', `${JSON.stringify(input)} is not a mailbox address (expected local@domain)`);
  }
  return mailbox;
}

export interface ImportValidationOptions {
  /**
   * Accept a certificate whose notBefore is still to come: a renewal of a
   * mailbox that has a valid identity, imported ahead of time; it signs
   * from its notBefore on (Keystore.signingIdentity).
   */
  readonly allowNotYetValid?: boolean;
}

/** Throws SiegelError('ENROLL_REJECTED') on the first problem found. */
export function validateImport(mailbox: string, privateKey: KeyObject, certificate: Buffer, now: Date, options: ImportValidationOptions = {}): ValidatedImport {
  let info: CertificateInfo;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificate);
    info = parseCertificate(certificate);
  } catch (err) {
    throw reject(`the certificate cannot be parsed (${err instanceof Error ? err.message : String(err)})`, err);
  }
  const label = `certificate for "${info.subject}" (serial ${info.serialHex})`;
  if (info.isCA) {
    throw reject(`${label} is a CA certificate (basicConstraints cA=true); import the mailbox's own certificate`);
  }
  if (!matchesKey(x509, privateKey)) {
    throw reject(`the private key does not belong to the ${label}`);
  }
  checkMailbox(label, info, mailbox);
  if (now.getTime() < info.notBefore.getTime() && !options.allowNotYetValid) {
    throw reject(`${label} is not valid before ${info.notBefore.toISOString()}`);
  }
  if (now.getTime() > info.notAfter.getTime()) {
    throw reject(`${label} expired on ${info.notAfter.toISOString()}`);
  }
  if ((info.publicKey.algorithm === 'rsa' || info.publicKey.algorithm === 'rsa-pss') && (info.publicKey.bits ?? 0) < MIN_RSA_BITS) {
    throw reject(`${label} has an RSA key of ${info.publicKey.bits ?? '?'} bits; at least ${MIN_RSA_BITS} are required`);
  }
  const role = roleOf(info);
  if (role === undefined) {
    throw reject(`${label} allows neither signing nor encryption (keyUsage: ${keyUsageText(info)}; key ${info.publicKey.algorithm})`);
  }
  if (!allowsEmailProtection(info)) {
    const listed = (info.extendedKeyUsage ?? []).map((oid) => EKU_NAMES[oid] ?? oid).join(', ');
    throw reject(`${label} is not for e-mail: its extendedKeyUsage lists ${listed} but not emailProtection`);
  }
  return { info, role };
}

/** RFC 8550 section 3: the address must be an rfc822Name in subjectAltName. */
function checkMailbox(label: string, info: CertificateInfo, mailbox: string): void {
  if (info.emailAddresses.includes(mailbox)) return;
  const has = info.emailAddresses.length > 0 ? `it has: ${info.emailAddresses.join(', ')}` : 'it has no e-mail address there';
  const legacy = info.legacyEmailAddresses.includes(mailbox)
    ? `; ${mailbox} appears only in the legacy emailAddress attribute of the subject name, which S/MIME clients do not match, so ask the CA for a certificate with the address in subjectAltName`
    : '';
  throw reject(`${label} does not contain ${mailbox} in subjectAltName (${has})${legacy}`);
}

function keyUsageText(info: CertificateInfo): string {
  const ku = info.keyUsage;
  if (!ku) return 'absent';
  const set = (Object.keys(ku) as KeyUsageName[]).filter((name) => ku[name]);
  return set.length > 0 ? set.join(', ') : 'none';
}

function reject(message: string, cause?: unknown): SiegelError {
  return new SiegelError('ENROLL_REJECTED', message, cause === undefined ? undefined : { cause });
}
