/**
 * Which certificate found in a directory Siegel encrypts to: the same
 * rules as for a harvested one (keystore/harvest.ts), plus the path
 * validation the inbound verifier gives a signer, because a directory entry
 * carries no verified signature that vouches for it. A certificate is used
 * only when its path ends at a configured trust anchor (intermediates taken
 * from the entry's cACertificate values, else the anchors alone), it is
 * not a CA, its keyUsage allows key transport or agreement (a sign-only
 * certificate is never used), its extendedKeyUsage allows emailProtection
 * (or is absent), the address is one of its rfc822Name subjectAltNames and
 * it is valid now. Among several, the newest notBefore wins.
 */
import type { EncryptionCertificate } from '../keystore/harvest.js';
import { validatePath } from '../pki/path-validation.js';
import { encryptionUnfitness, parseCertificate, type CertificateInfo } from '../pki/certificate-info.js';
import type { TrustAnchor } from '../pki/trust-store.js';
import type { DirectoryEntry } from './ldap-search.js';

/** Bounds on what one directory answer makes us parse (the directory is not ours). */
export const MAX_CERTIFICATES_PER_ENTRY = 16;
export const MAX_CA_CERTIFICATES_PER_ENTRY = 8;
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

export interface SkippedCertificate {
  readonly dn: string;
  /** SHA-256 (lower-case hex) when the bytes were a certificate. */
  readonly fingerprint?: string;
  readonly reason: string;
}

export interface DirectoryChoice {
  readonly chosen: EncryptionCertificate | undefined;
  readonly skipped: readonly SkippedCertificate[];
}

interface Usable {
  readonly info: CertificateInfo;
  readonly der: Buffer;
}

export function chooseDirectoryCertificate(entries: readonly DirectoryEntry[], address: string, anchors: readonly TrustAnchor[], at: Date): DirectoryChoice {
  const skipped: SkippedCertificate[] = [];
  const usable: Usable[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const intermediates = entry.caCertificates.slice(0, MAX_CA_CERTIFICATES_PER_ENTRY).filter((der) => der.length <= MAX_CERTIFICATE_BYTES);
    for (const der of entry.certificates.slice(0, MAX_CERTIFICATES_PER_ENTRY)) {
      const outcome = check(der, intermediates, address, anchors, at);
      if (typeof outcome === 'string') {
        skipped.push({ dn: entry.dn, reason: outcome });
      } else if ('reason' in outcome) {
        skipped.push({ dn: entry.dn, fingerprint: outcome.fingerprint, reason: outcome.reason });
      } else if (!seen.has(outcome.info.sha256)) {
        seen.add(outcome.info.sha256);
        usable.push(outcome);
      }
    }
  }
  const best = usable.sort((a, b) => b.info.notBefore.getTime() - a.info.notBefore.getTime() || a.info.sha256.localeCompare(b.info.sha256))[0];
  if (!best) return { chosen: undefined, skipped };
  return {
    chosen: {
      address,
      certificate: best.der,
      fingerprint: best.info.sha256,
      // The directory says nothing about the recipient's client: envelope-encrypt then uses what every client reads.
      capabilities: [],
      notAfter: best.info.notAfter,
    },
    skipped,
  };
}

/** The usable certificate, or why not (with the fingerprint once the bytes parsed). */
function check(der: Buffer, intermediates: readonly Buffer[], address: string, anchors: readonly TrustAnchor[], at: Date): Usable | string | { fingerprint: string; reason: string } {
  if (der.length > MAX_CERTIFICATE_BYTES) return `a value of ${der.length} bytes is too large for a certificate`;
  let info: CertificateInfo;
  try {
    info = parseCertificate(der);
  } catch {
    return 'a value is not an X.509 certificate';
  }
  const why = (reason: string) => ({ fingerprint: info.sha256, reason });
  switch (encryptionUnfitness(info, address, at)) {
    case 'ca':
      return why('it is a CA certificate');
    case 'other-address':
      return why(`${address} is not among its subjectAltName addresses (${info.emailAddresses.join(', ') || 'none'})`);
    case 'sign-only':
      return why('its keyUsage does not allow encryption (sign-only)');
    case 'not-email':
      return why('its extendedKeyUsage does not allow emailProtection');
    case 'not-valid':
      return why(`it is not valid now (${info.notBefore.toISOString()} to ${info.notAfter.toISOString()})`);
    case undefined:
      break;
  }
  const path = validatePath(der, intermediates, anchors, { at });
  if (!path.ok) return why(`no trusted path (${path.reason}: ${path.detail})`);
  return { info, der: Buffer.from(der) };
}
