/**
 * Completes the CA chain of a newly issued mailbox certificate, as an
 * administrator would: from the certificates that came with it, then from
 * the configured trust anchors, then by downloading each missing issuer
 * from the authorityInfoAccess caIssuers URL of the certificate below it
 * (RFC 5280 section 4.2.2.1: DER or a PKCS#7 certs-only bundle).
 *
 * Partners need the intermediates in every signature, so a complete chain
 * matters; but a chain that cannot be completed is no reason to refuse an
 * identity (the CA issued it, and the signature still carries what is
 * known). The result says how far it got and why it stopped.
 */
import { X509Certificate } from 'node:crypto';
import { errorMessage } from '../errors.js';
import { accessLocations, AIA } from './authority-info-access.js';
import { parseCertificates } from './key-files.js';
import { isSelfSigned } from './key-material.js';
import { oneLine } from './path-validation.js';
import type { TrustAnchor } from './trust-store.js';

/** Downloads one caIssuers URL; throws with a readable message on failure. */
export type CaIssuersFetcher = (url: string) => Promise<Buffer>;

export interface CompletedChain {
  /** CA certificates from the leaf's issuer upwards, without self-signed roots (DER). */
  readonly chain: Buffer[];
  /** The anchor the chain reaches; undefined when it stays incomplete. */
  readonly anchor: TrustAnchor | undefined;
  /** Why the chain stopped short; undefined when complete. */
  readonly problem: string | undefined;
  /** The caIssuers URLs downloaded, in order. */
  readonly fetched: readonly string[];
}

export interface ChainCompletionOptions {
  readonly anchors: readonly TrustAnchor[];
  readonly fetch: CaIssuersFetcher;
  /** At most this many downloads (default 5). */
  readonly maxHops?: number;
}

const MAX_CHAIN = 10;
export const DEFAULT_MAX_HOPS = 5;

export async function completeChain(leaf: Buffer, candidates: readonly Buffer[], options: ChainCompletionOptions): Promise<CompletedChain> {
  const maxHops = options.maxHops ?? DEFAULT_MAX_HOPS;
  const pool = candidates.map((der) => new X509Certificate(der));
  const chain: X509Certificate[] = [];
  const fetched: string[] = [];
  let current = new X509Certificate(leaf);
  const result = (problem: string | undefined, anchor?: TrustAnchor): CompletedChain => ({
    chain: chain.filter((x509) => !isSelfSigned(x509)).map((x509) => Buffer.from(x509.raw)),
    anchor,
    problem,
    fetched,
  });

  while (chain.length < MAX_CHAIN) {
    const anchor = options.anchors.find((a) => a.fingerprint !== fingerprintOf(current) && issued(current, a.x509));
    // An anchor that is itself an intermediate (trusted explicitly) still belongs into signatures.
    if (anchor) {
      if (!isSelfSigned(anchor.x509)) chain.push(anchor.x509);
      return result(undefined, anchor);
    }
    const name = oneLine(current.subject);
    if (chain.length > 0 && isSelfSigned(current)) return result(`the chain ends at "${name}", which is not a configured trust anchor`);
    const inPool = pool.find((candidate) => !chain.includes(candidate) && issued(current, candidate));
    if (inPool) {
      chain.push(inPool);
      current = inPool;
      continue;
    }
    const urls = accessLocations(Buffer.from(current.raw), AIA.caIssuers);
    const url = urls.find((u) => u.toLowerCase().startsWith('http://'));
    if (!url) {
      const why = urls.length > 0 ? `its caIssuers URL (${urls.join(', ')}) is not http` : 'it names no caIssuers URL';
      return result(`the issuer of "${name}" is neither in the file nor among the trust anchors, and ${why}`);
    }
    if (fetched.length >= maxHops) return result(`the issuer of "${name}" was not found within ${maxHops} downloads`);
    fetched.push(url);
    let downloaded: X509Certificate[];
    try {
      downloaded = parseCertificates(await options.fetch(url), url).map((der) => new X509Certificate(der));
    } catch (err) {
      return result(`the issuer of "${name}" could not be downloaded from ${url}: ${errorMessage(err)}`);
    }
    const issuer = downloaded.find((candidate) => issued(current, candidate));
    if (!issuer) return result(`${url} did not serve the issuer of "${name}"`);
    pool.push(...downloaded.filter((x509) => x509 !== issuer));
    chain.push(issuer);
    current = issuer;
  }
  return result(`no trust anchor within ${MAX_CHAIN} certificates`);
}

/** OpenSSL's issuer match (names, key identifiers) and the signature itself. */
function issued(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function fingerprintOf(x509: X509Certificate): string {
  return x509.fingerprint256.replace(/:/g, '').toLowerCase();
}
