/**
 * Finds the issuer certificate of a recipient certificate, which is needed
 * to ask about its revocation (OCSP CertID, CRL signature) but is not kept
 * with harvested certificates: a configured trust anchor that issued it,
 * else an intermediate seen in a validated inbound path (remembered here),
 * else the certificate's AIA caIssuers URL (RFC 5280 4.2.2.1, a DER
 * certificate). Whatever the source, the certificate's signature must
 * verify with the issuer's key.
 */
import { X509Certificate } from 'node:crypto';
import { BoundedCache } from '../memo.js';
import type { TrustAnchor } from '../trust-store.js';
import { revocationUrls } from './certificate-fields.js';
import { fetchBytes } from '../http-fetch.js';

const MAX_ISSUER_SIZE = 64 * 1024;
/** Intermediates from validated paths, by subject (as OpenSSL prints it). */
const SEEN_ISSUERS = new BoundedCache<Buffer>(512);

/** Called with validated paths (leaf first): their CA certificates become known issuers. */
export function rememberIssuers(path: readonly Buffer[]): void {
  for (const der of path.slice(1)) {
    try {
      SEEN_ISSUERS.set(new X509Certificate(der).subject, der);
    } catch {
      // not a certificate: nothing to remember
    }
  }
}

export async function findIssuer(certificate: Buffer, anchors: readonly TrustAnchor[], timeout: number): Promise<Buffer | undefined> {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certificate);
  } catch {
    return undefined;
  }
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
  if (seen && issued(new X509Certificate(seen))) return seen;
  for (const url of revocationUrls(certificate).caIssuers) {
    try {
      const der = await fetchBytes(url, { timeout, maxSize: MAX_ISSUER_SIZE, accept: 'application/pkix-cert' });
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
