/**
 * Issuing CA certificates of correspondents, kept so that the revocation of
 * their certificates can be checked after a restart: an OCSP request names
 * the issuer's name and key hash, a CRL is signed by the issuer, and
 * neither a harvested nor an imported certificate carries its issuer.
 * Filled from what was validated (`siegel certs import`, harvesting after a
 * verified signature); read by pki/revocation/issuers.ts, which still
 * checks that the certificate's signature verifies with the issuer's key,
 * so the store only saves work and never vouches for anything.
 *
 * DESIGN rule 6: one interface, node:sqlite embedded
 * (sqlite-issuer-store.ts), every implementation passing
 * test/harvest/issuer-store.conformance.ts.
 */
import { X509Certificate } from 'node:crypto';
import { errorMessage } from '../errors.js';
import { certificateKey } from '../pki/memo.js';

/** Rows kept at most; beyond it the least recently seen go. A city talks to hundreds of partner PKIs, not thousands. */
export const MAX_ISSUER_CERTIFICATES = 4096;
/** A CA certificate is a few kilobytes; anything larger is not kept. */
export const MAX_ISSUER_CERTIFICATE_BYTES = 64 * 1024;
/** How precisely last_seen is kept: a partner sending all day must not cost a write per message. */
export const ISSUER_SEEN_RESOLUTION_MS = 86_400_000;

export type IssuerPutResult =
  /** Stored now. */
  | 'added'
  /** Already there (its last-seen time refreshed when older than a day). */
  | 'known'
  /** Not kept: not a certificate, not a CA (basicConstraints cA), or too large. */
  | 'refused';

export interface IssuerStore {
  /** Keeps a CA certificate (DER), keyed by its SHA-256 fingerprint. Evicts the least recently seen beyond the bound. */
  put(certificate: Buffer, at: Date): Promise<IssuerPutResult>;
  /** DER of the kept CA certificates whose subject (as OpenSSL prints it) is `subject`; most recently seen first. */
  forSubject(subject: string): Promise<Buffer[]>;
  /** How many certificates are kept. */
  count(): Promise<number>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** What a store keeps of a certificate it accepts; undefined when it refuses it. */
export interface IssuerEntry {
  readonly fingerprint: string;
  /** As OpenSSL prints it (X509Certificate.subject): what a certificate's `issuer` is compared with. */
  readonly subject: string;
  readonly notAfter: Date;
}

/** The checks every store makes on put: a readable certificate, a CA, not larger than the bound. */
export function issuerEntry(certificate: Buffer): IssuerEntry | undefined {
  if (certificate.length === 0 || certificate.length > MAX_ISSUER_CERTIFICATE_BYTES) return undefined;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificate);
  } catch {
    return undefined;
  }
  if (!x509.ca) return undefined;
  return {
    fingerprint: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
    subject: x509.subject,
    notAfter: new Date(x509.validTo),
  };
}

/**
 * The CA certificates of a validated path (leaf first, anchor last) worth
 * keeping: neither the leaf nor the trust anchor (configured, so always at
 * hand).
 */
export function pathIssuers(path: readonly Buffer[]): Buffer[] {
  return path.slice(1, -1);
}

/**
 * Stores the CA certificates of validated paths, each once. Never throws:
 * the certificate they issued is kept already, so a failure is returned for
 * the caller's log line or report. `kept` holds those the store accepted.
 */
export async function keepPathIssuers(
  store: IssuerStore | undefined,
  paths: ReadonlyArray<readonly Buffer[]>,
  now: Date,
): Promise<{ readonly kept: readonly Buffer[]; readonly error?: string }> {
  const kept: Buffer[] = [];
  if (!store) return { kept };
  try {
    const done = new Set<string>();
    for (const der of paths.flatMap(pathIssuers)) {
      const key = certificateKey(der);
      if (done.has(key)) continue;
      done.add(key);
      if ((await store.put(der, now)) !== 'refused') kept.push(der);
    }
    return { kept };
  } catch (err) {
    return { kept, error: errorMessage(err) };
  }
}
