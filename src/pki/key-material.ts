/**
 * What an import file yields: one private key, the certificate that belongs
 * to it, and the issuing CA certificates. Shared by the PKCS#12 reader and
 * the --cert/--key reader so both pick the leaf and order the chain alike.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { SiegelError } from '../errors.js';

export interface KeyMaterial {
  readonly privateKey: KeyObject;
  /** The certificate whose public key matches privateKey, DER. */
  readonly certificate: Buffer;
  /** Other certificates, leaf-ward first, without self-signed roots, DER. */
  readonly chain: Buffer[];
}

/** Picks the certificate matching the key as leaf; the rest becomes the chain. */
export function assembleKeyMaterial(privateKey: KeyObject, certificates: readonly Buffer[], source: string): KeyMaterial {
  if (certificates.length === 0) throw new SiegelError('ENROLL_REJECTED', `${source} contains no certificate`);
  const parsed = certificates.map((der) => ({ der, x509: parseX509(der, source) }));
  const leaf = parsed.find((entry) => matchesKey(entry.x509, privateKey));
  if (!leaf) {
    throw new SiegelError(
      'ENROLL_REJECTED',
      `${source}: no certificate matches the private key (certificates: ${parsed.map((p) => p.x509.subject.replace(/\n/g, ', ')).join('; ')})`,
    );
  }
  const others = parsed.filter((entry) => entry !== leaf).map((entry) => entry.der);
  return { privateKey, certificate: leaf.der, chain: orderChain(leaf.der, others) };
}

/**
 * Orders CA certificates from the leaf's issuer upwards and drops
 * self-signed roots (trust anchors are configured, never taken from an
 * import file) and duplicates. CA certificates that do not link into the
 * path are kept at the end: they may be cross-certificates a verifier needs.
 */
export function orderChain(leaf: Buffer, others: readonly Buffer[]): Buffer[] {
  const seen = new Set<string>([fingerprint(leaf)]);
  const pool: X509Certificate[] = [];
  for (const der of others) {
    const x509 = new X509Certificate(der);
    if (seen.has(x509.fingerprint256) || isSelfSigned(x509)) continue;
    seen.add(x509.fingerprint256);
    pool.push(x509);
  }
  const ordered: X509Certificate[] = [];
  let current = new X509Certificate(leaf);
  for (;;) {
    const child = current;
    const issuer = pool.find((candidate) => !ordered.includes(candidate) && child.checkIssued(candidate) && child.verify(candidate.publicKey));
    if (!issuer) break;
    ordered.push(issuer);
    current = issuer;
  }
  // Other end-entity certificates (e.g. the mailbox's second identity in the same file) are no chain.
  const rest = pool.filter((x509) => !ordered.includes(x509) && x509.ca);
  return [...ordered, ...rest].map((x509) => Buffer.from(x509.raw));
}

export function isSelfSigned(x509: X509Certificate): boolean {
  return x509.checkIssued(x509) && x509.verify(x509.publicKey);
}

export function matchesKey(x509: X509Certificate, privateKey: KeyObject): boolean {
  try {
    return x509.checkPrivateKey(privateKey);
  } catch {
    return false;
  }
}

function fingerprint(der: Buffer): string {
  return new X509Certificate(der).fingerprint256;
}

function parseX509(der: Buffer, source: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch {
    throw new SiegelError('ENROLL_REJECTED', `${source} contains a certificate that cannot be parsed`);
  }
}
