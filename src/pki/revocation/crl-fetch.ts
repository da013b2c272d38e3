/**
 * Downloads a CRL from a distribution point and checks that it may be
 * relied on for certificates of `issuer` at `at`: signed by the issuer's
 * key (node:crypto over the exact tbsCertList bytes), issued under the
 * issuer's name, by a key allowed to sign CRLs, and current (thisUpdate not
 * in the future beyond the clock skew, nextUpdate not passed).
 */
import { X509Certificate } from 'node:crypto';
import { keyUsageOf } from '../certificate-extensions.js';
import { readCertificate } from '../path-validation.js';
import { certificateFields } from './certificate-fields.js';
import { parseCrl, type ParsedCrl } from './crl-parse.js';
import { fetchBytes } from '../http-fetch.js';
import { verifySignature } from './signature.js';

/** Tolerated difference between our clock and the CRL issuer's. */
export const CLOCK_SKEW_MS = 5 * 60_000;

export interface CrlFetchOptions {
  readonly timeout: number;
  readonly maxCrlSize: number;
}

/** DER as RFC 5280 4.2.1.13 asks; PEM too, which some servers publish. Throws FetchError or a parse error. */
export async function downloadCrl(url: string, options: CrlFetchOptions): Promise<ParsedCrl> {
  const body = await fetchBytes(url, { timeout: options.timeout, maxSize: options.maxCrlSize, accept: 'application/pkix-crl' });
  return parseCrl(isPem(body) ? pemBody(body) : body);
}

/** undefined when the CRL is acceptable for the issuer's certificates, else why not. */
export function crlProblem(crl: ParsedCrl, issuerDer: Buffer): string | undefined {
  const issuer = readCertificate(issuerDer);
  if (!issuer) return 'the issuer certificate cannot be read';
  if (!crl.issuerName.equals(certificateFields(issuerDer).subjectName)) return 'the CRL is issued under another name than the certificate issuer';
  try {
    const usage = keyUsageOf(issuer.cert);
    if (usage && !usage.cRLSign) return 'the issuer key may not sign CRLs (keyUsage without cRLSign)';
  } catch {
    return 'the issuer keyUsage cannot be read';
  }
  let valid: boolean;
  try {
    valid = verifySignature(crl.signatureAlgorithm, new X509Certificate(issuerDer).publicKey, crl.tbs, crl.signature);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return valid ? undefined : 'the CRL signature does not verify with the issuer key';
}

/** undefined when the CRL is current at `at`; `maxAge` applies to CRLs without nextUpdate. */
export function staleness(crl: ParsedCrl, at: Date, maxAge: number): string | undefined {
  const t = at.getTime();
  if (crl.thisUpdate.getTime() > t + CLOCK_SKEW_MS) return `the CRL is dated in the future (thisUpdate ${crl.thisUpdate.toISOString()})`;
  if (crl.nextUpdate && t > crl.nextUpdate.getTime()) return `the CRL is stale (nextUpdate ${crl.nextUpdate.toISOString()} has passed)`;
  if (!crl.nextUpdate && t > crl.thisUpdate.getTime() + maxAge) return `the CRL without nextUpdate is older than the maximum age (thisUpdate ${crl.thisUpdate.toISOString()})`;
  return undefined;
}

function isPem(body: Buffer): boolean {
  return body.subarray(0, 64).toString('latin1').includes('-----BEGIN');
}

function pemBody(body: Buffer): Buffer {
  const text = body.toString('latin1');
  const match = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(text);
  if (!match?.[1]) throw new Error('PEM without an X509 CRL block');
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}
