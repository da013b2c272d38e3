/**
 * Finds the issuer certificate of a recipient certificate, which is needed
 * to ask about its revocation (OCSP CertID, CRL signature) but is not kept
 * with harvested or imported certificates: a configured trust anchor that
 * issued it, else an intermediate seen in a validated inbound path
 * (remembered here, in memory), else one kept in the issuer store
 * (keystore/issuer-store.ts: the chains of imported and harvested
 * certificates, so a restart loses nothing), else the certificate's AIA
 * caIssuers URL (RFC 5280 4.2.2.1, a DER certificate). Whatever the source,
 * the certificate's signature must verify with the issuer's key.
 */
import { X509Certificate } from 'node:crypto';
import { BoundedCache, certificateKey } from '../memo.js';
import { readCertificate } from '../path-validation.js';
import type { TrustAnchor } from '../trust-store.js';
import { revocationUrls } from './certificate-fields.js';
import { fetchBytes } from '../http-fetch.js';

const MAX_ISSUER_SIZE = 64 * 1024;
/** Intermediates from validated paths and the store, by subject (as OpenSSL prints it): the cache in front of the store. */
const SEEN_ISSUERS = new BoundedCache<Buffer>(512);

/** Where kept issuers are read (IssuerStore.forSubject); a failure is reported, never thrown. */
export interface StoredIssuers {
  forSubject(subject: string): Promise<Buffer[]>;
}

export interface FindIssuerOptions {
  /** For fetching an issuer certificate from caIssuers, milliseconds. */
  readonly timeout: number;
  readonly stored?: StoredIssuers;
  /** Told when the store cannot be read; the look-up goes on without it. */
  readonly onStoreError?: (err: unknown) => void;
}

/** Called with validated paths (leaf first): their CA certificates become known issuers. */
export function rememberIssuers(path: readonly Buffer[]): void {
  // Runs for every verified message: the parsed certificates come from the path validation's memo.
  for (const der of path.slice(1)) {
    const subject = readCertificate(der)?.x509.subject;
    if (subject !== undefined) SEEN_ISSUERS.set(subject, der);
  }
}

/** Issuers already found, by certificate content: that one certificate signed another is a fact that never changes. */
const FOUND = new BoundedCache<Buffer>(4096);

export async function findIssuer(certificate: Buffer, anchors: readonly TrustAnchor[], options: FindIssuerOptions): Promise<Buffer | undefined> {
  const key = certificateKey(certificate);
  const known = FOUND.get(key);
  // Still one of the places it may come from (an anchor removed from the configuration is not used).
  if (known && (SEEN_ISSUERS.get(readCertificate(known)?.x509.subject ?? '')?.equals(known) || anchors.some((a) => a.der.equals(known)))) return known;
  const issuer = await searchIssuer(certificate, anchors, options);
  if (issuer) FOUND.set(key, issuer);
  return issuer;
}

async function searchIssuer(certificate: Buffer, anchors: readonly TrustAnchor[], options: FindIssuerOptions): Promise<Buffer | undefined> {
  const leaf = readCertificate(certificate)?.x509;
  if (!leaf) return undefined;
  const issued = (issuer: X509Certificate): boolean => {
    try {
      return leaf.checkIssued(issuer) && leaf.verify(issuer.publicKey);
    } catch {
      return false;
    }
  };
  const anchor = anchors.find((a) => issued(a.x509));
  if (anchor) return anchor.der;
  const seen = SEEN_ISSUERS.get(leaf.issuer);
  const seenView = seen && readCertificate(seen)?.x509;
  if (seen && seenView && issued(seenView)) return seen;
  for (const der of await storedFor(leaf.issuer, options)) {
    const issuer = readCertificate(der)?.x509;
    if (issuer && issued(issuer)) {
      SEEN_ISSUERS.set(issuer.subject, der);
      return der;
    }
  }
  for (const url of revocationUrls(certificate).caIssuers) {
    try {
      const der = await fetchBytes(url, { timeout: options.timeout, maxSize: MAX_ISSUER_SIZE, accept: 'application/pkix-cert' });
      const issuer = new X509Certificate(der);
      if (issued(issuer)) {
        SEEN_ISSUERS.set(issuer.subject, Buffer.from(issuer.raw));
        return Buffer.from(issuer.raw);
      }
    } catch {
      // unreachable or not a certificate: try the next URL
    }
  }
  return undefined;
}

async function storedFor(subject: string, options: FindIssuerOptions): Promise<Buffer[]> {
  if (!options.stored) return [];
  try {
    return await options.stored.forSubject(subject);
  } catch (err) {
    // A store failure must not cost the message: the caIssuers URL (or the revocation mode) decides as before.
    options.onStoreError?.(err);
    return [];
  }
}
