/**
 * Certification path validation for inbound S/MIME signers (a bounded
 * subset of RFC 5280 section 6, without revocation). Paths are built from
 * the signer through certificates the message supplied to a configured
 * anchor; a certificate from the message never becomes an anchor, however
 * self-signed it is. OpenSSL (node:crypto X509Certificate) does the name /
 * key-identifier matching (checkIssued) and the signature checks; the
 * policy rules (CA flags, pathLen, weak algorithms, dates) are checked here.
 *
 * Bounds: at most MAX_CANDIDATES message certificates are considered, paths
 * are at most MAX_PATH_LENGTH certificates long, and the search stops after
 * MAX_LINK_CHECKS issuer checks, so a hostile certificate set costs a
 * constant amount of work.
 */
import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { arrayBufferOf } from './bytes.js';
import { keyUsageOf, type KeyUsageFlags } from './certificate-extensions.js';
import { BoundedCache, memoByCertificate } from './memo.js';
import type { TrustAnchor } from './trust-store.js';

export const MAX_PATH_LENGTH = 10;
export const MAX_CANDIDATES = 50;
const MAX_LINK_CHECKS = 500;

export type PathFailureReason =
  | 'malformed'
  | 'untrusted-root'
  | 'no-path'
  | 'path-too-long'
  | 'bad-chain-signature'
  | 'not-a-ca'
  | 'path-length-exceeded'
  | 'expired'
  | 'not-yet-valid'
  | 'expired-at-signing'
  | 'weak-digest'
  | 'weak-key';

export interface PathOptions {
  /** The validation time (injected clock). */
  readonly at: Date;
  /** When given, the leaf must also have been valid then (the signingTime attribute). */
  readonly signingTime?: Date;
  /** RSA keys below this size are refused anywhere in the path (default 2048). */
  readonly minRsaBits?: number;
}

export type PathResult =
  | { readonly ok: true; /** leaf first, anchor last */ readonly path: readonly Buffer[]; readonly anchor: TrustAnchor }
  | {
      readonly ok: false;
      readonly reason: PathFailureReason;
      readonly detail: string;
      /** The offending certificate's subject, when one is to blame. */
      readonly certificate?: string;
      /** The best path found, leaf first, when one reached an anchor. */
      readonly path?: readonly Buffer[];
    };

/**
 * A certificate read by OpenSSL; the pkijs object model (slow: asn1js) is
 * built only when a policy check needs an extension, i.e. only for path members.
 */
export interface CertificateView {
  readonly der: Buffer;
  readonly x509: X509Certificate;
  /** Throws when pkijs cannot read the certificate; callers treat that as malformed. */
  readonly cert: pkijs.Certificate;
  readonly fingerprint: string;
}

/**
 * undefined when the bytes are not a certificate OpenSSL accepts (never
 * throws). Memoised by content: the same partner certificates and CA
 * chains arrive with every message, and parsing them dominated verification.
 */
export const readCertificate: (der: Buffer) => CertificateView | undefined = memoByCertificate(readCertificateUncached);

function readCertificateUncached(der: Buffer): CertificateView | undefined {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    return undefined;
  }
  let cert: pkijs.Certificate | undefined;
  return {
    der,
    x509,
    get cert(): pkijs.Certificate {
      cert ??= pkijs.Certificate.fromBER(arrayBufferOf(der));
      return cert;
    },
    fingerprint: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

/** Signature algorithms whose hash is broken for certificate signatures (collisions): MD2, MD5, SHA-1. */
const WEAK_SIGNATURE_OIDS = new Set([
  '1.2.840.113549.1.1.2', // md2WithRSAEncryption
  '1.2.840.113549.1.1.4', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5', // sha1WithRSAEncryption
  '1.3.14.3.2.29', // sha1WithRSASignature (OIW)
  '1.2.840.10045.4.1', // ecdsa-with-SHA1
  '1.2.840.10040.4.3', // dsa-with-sha1
]);
const RSASSA_PSS = '1.2.840.113549.1.1.10';
const SHA1 = '1.3.14.3.2.26';

export function validatePath(leafDer: Buffer, candidatesDer: readonly Buffer[], anchors: readonly TrustAnchor[], options: PathOptions): PathResult {
  const leaf = readCertificate(leafDer);
  if (!leaf) return { ok: false, reason: 'malformed', detail: 'the signer certificate cannot be parsed' };
  const candidates: CertificateView[] = [];
  for (const der of candidatesDer.slice(0, MAX_CANDIDATES)) {
    const view = readCertificate(der);
    // Self-signed message certificates can only end a path as anchors, and they are not anchors.
    if (view && view.fingerprint !== leaf.fingerprint && !candidates.some((c) => c.fingerprint === view.fingerprint)) candidates.push(view);
  }
  const search = new PathSearch(candidates, anchors);
  const paths = search.find(leaf);
  let firstFailure: Extract<PathResult, { ok: false }> | undefined;
  for (const found of paths) {
    const failure = checkPath(found.chain, found.anchor, options);
    if (!failure) return { ok: true, path: [...found.chain.map((c) => c.der), found.anchor.der], anchor: found.anchor };
    firstFailure ??= { ...failure, path: [...found.chain.map((c) => c.der), found.anchor.der] };
  }
  if (firstFailure) return firstFailure;
  return search.dead;
}

interface FoundPath {
  /** leaf first, up to the certificate the anchor issued */
  readonly chain: readonly CertificateView[];
  readonly anchor: TrustAnchor;
}

/**
 * Issuer links already checked, by the fingerprints of both certificates:
 * a link is a fact about two fixed certificates (names, key identifiers,
 * signature), unlike validity, which depends on the time and is checked
 * per path. Process-wide, so the same partner chain is checked once.
 */
const LINKS = new BoundedCache<{ readonly ok: boolean; readonly badSignature: boolean }>(4096);
const SELF_SIGNED = new BoundedCache<boolean>(4096);

/** Depth-first search for every path to an anchor, within the bounds. */
class PathSearch {
  private checks = 0;
  /** Why no path was found, refined as the search learns more. */
  dead: Extract<PathResult, { ok: false }> = { ok: false, reason: 'no-path', detail: 'no issuer certificate of the signer was found in the message or the trust anchors' };

  constructor(
    private readonly candidates: readonly CertificateView[],
    private readonly anchors: readonly TrustAnchor[],
  ) {}

  find(leaf: CertificateView): FoundPath[] {
    const found: FoundPath[] = [];
    this.extend([leaf], found);
    return found;
  }

  private extend(chain: CertificateView[], found: FoundPath[]): void {
    const top = chain[chain.length - 1];
    if (!top || found.length >= 4) return;
    for (const anchor of this.anchors) {
      if (top.fingerprint === anchor.fingerprint) {
        // The message's copy of an anchor: the path ends one step lower.
        continue;
      }
      if (this.issued(top, anchor.x509, anchor.fingerprint)) found.push({ chain: [...chain], anchor });
    }
    if (found.length > 0) return;
    if (isSelfIssuedAndSigned(top)) {
      this.dead = { ok: false, reason: 'untrusted-root', detail: `the path ends at "${oneLine(top.x509.subject)}", which is not a configured trust anchor`, certificate: oneLine(top.x509.subject) };
      return;
    }
    if (chain.length >= MAX_PATH_LENGTH) {
      this.dead = { ok: false, reason: 'path-too-long', detail: `no anchor within ${MAX_PATH_LENGTH} certificates` };
      return;
    }
    for (const candidate of this.candidates) {
      if (chain.some((c) => c.fingerprint === candidate.fingerprint)) continue;
      if (this.issued(top, candidate.x509, candidate.fingerprint)) this.extend([...chain, candidate], found);
      if (found.length > 0 || this.checks >= MAX_LINK_CHECKS) return;
    }
  }

  /** OpenSSL's issuer match (names, key identifiers) plus the signature itself; cached per pair. */
  private issued(child: CertificateView, issuer: X509Certificate, issuerFingerprint: string): boolean {
    const key = `${child.fingerprint}/${issuerFingerprint}`;
    let link = LINKS.get(key);
    if (link === undefined) {
      if (this.checks >= MAX_LINK_CHECKS) return false;
      this.checks++;
      let ok = false;
      let badSignature = false;
      try {
        if (child.x509.checkIssued(issuer)) {
          ok = child.x509.verify(issuer.publicKey);
          badSignature = !ok;
        }
      } catch {
        ok = false;
      }
      link = { ok, badSignature };
      LINKS.set(key, link);
    }
    if (link.badSignature) this.dead = { ok: false, reason: 'bad-chain-signature', detail: `the signature on "${oneLine(child.x509.subject)}" does not verify with its issuer's key`, certificate: oneLine(child.x509.subject) };
    return link.ok;
  }
}

function isSelfIssuedAndSigned(view: CertificateView): boolean {
  const { x509, fingerprint: key } = view;
  const known = SELF_SIGNED.get(key);
  if (known !== undefined) return known;
  let selfSigned = false;
  try {
    selfSigned = x509.subject === x509.issuer && x509.verify(x509.publicKey);
  } catch {
    selfSigned = false;
  }
  SELF_SIGNED.set(key, selfSigned);
  return selfSigned;
}

type Failure = Omit<Extract<PathResult, { ok: false }>, 'ok' | 'path'> & { readonly ok: false };

/**
 * What the policy checks read from one certificate, apart from the time:
 * computed once per certificate (views are memoised by content), because
 * the same partner chains arrive with every message and reading names,
 * dates, keys and extensions again each time was a large share of
 * verification.
 */
interface PathFacts {
  readonly name: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  /** pkijs could not read the certificate (its extensions are then unknown). */
  readonly unreadable: boolean;
  readonly weakSignature: boolean;
  /** The RSA modulus length; null for a key that is not RSA, undefined when unknown. */
  readonly rsaBits: number | null | undefined;
  readonly ca: boolean;
  /** 'unreadable' for a keyUsage extension that cannot be read. */
  readonly keyUsage: KeyUsageFlags | undefined | 'unreadable';
  readonly pathLen: number | undefined;
}

const FACTS = new WeakMap<CertificateView, PathFacts>();

function factsOf(view: CertificateView): PathFacts {
  let facts = FACTS.get(view);
  if (facts) return facts;
  const { x509 } = view;
  const key = x509.publicKey;
  const isRsa = key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss';
  let cert: pkijs.Certificate | undefined;
  try {
    cert = view.cert;
  } catch {
    cert = undefined;
  }
  let keyUsage: PathFacts['keyUsage'];
  try {
    keyUsage = cert ? keyUsageOf(cert) : undefined;
  } catch {
    keyUsage = 'unreadable';
  }
  facts = {
    name: oneLine(x509.subject),
    validFrom: x509.validFromDate,
    validTo: x509.validToDate,
    unreadable: cert === undefined,
    weakSignature: cert ? isWeakSignature(cert) : false,
    rsaBits: isRsa ? key.asymmetricKeyDetails?.modulusLength : null,
    ca: x509.ca,
    keyUsage,
    pathLen: cert ? pathLenOf(cert) : undefined,
  };
  FACTS.set(view, facts);
  return facts;
}

/** The policy checks on one path; undefined when it is acceptable. */
function checkPath(chain: readonly CertificateView[], anchor: TrustAnchor, options: PathOptions): Failure | undefined {
  const minRsaBits = options.minRsaBits ?? 2048;
  const anchorView = readCertificate(anchor.der);
  if (!anchorView) return fail('malformed', 'a trust anchor cannot be parsed');
  const all = [...chain, anchorView];
  const facts = all.map(factsOf);
  const at = options.at.getTime();
  for (const { name, validFrom, validTo } of facts) {
    if (at > validTo.getTime()) return fail('expired', `"${name}" expired on ${validTo.toISOString()}`, name);
    if (at < validFrom.getTime()) return fail('not-yet-valid', `"${name}" is valid only from ${validFrom.toISOString()}`, name);
  }
  const leaf = facts[0];
  if (chain.length > 0 && leaf && options.signingTime) {
    const t = options.signingTime.getTime();
    if (t > leaf.validTo.getTime() || t < leaf.validFrom.getTime()) {
      return fail('expired-at-signing', `the signer certificate was not valid at the claimed signing time ${options.signingTime.toISOString()}`, leaf.name);
    }
  }
  for (const [index, view] of all.entries()) {
    const fact = facts[index] as PathFacts;
    const name = fact.name;
    const isAnchor = index === all.length - 1;
    if (fact.unreadable) return fail('malformed', `"${name}" cannot be parsed`, name);
    // The anchor's self-signature is not relied upon (it is trusted by configuration), so its algorithm does not matter.
    if (fact.weakSignature && !(isAnchor && isSelfIssuedAndSigned(view))) return fail('weak-digest', `"${name}" is signed with MD5 or SHA-1`, name);
    if (fact.rsaBits !== null && (fact.rsaBits === undefined || fact.rsaBits < minRsaBits)) {
      return fail('weak-key', `"${name}" has an RSA key of ${fact.rsaBits ?? '?'} bits (minimum ${minRsaBits})`, name);
    }
    if (index === 0) continue;
    // Issuers: CA flag, keyCertSign, and pathLen over the intermediates below them.
    if (!fact.ca) return fail('not-a-ca', `"${name}" issues certificates but is not a CA`, name);
    if (fact.keyUsage === 'unreadable') return fail('malformed', `"${name}" has an unreadable keyUsage extension`, name);
    if (fact.keyUsage && !fact.keyUsage.keyCertSign) return fail('not-a-ca', `"${name}" lacks keyCertSign`, name);
    const intermediatesBelow = index - 1;
    if (fact.pathLen !== undefined && intermediatesBelow > fact.pathLen) {
      return fail('path-length-exceeded', `"${name}" allows ${fact.pathLen} intermediate CA(s) below it, the path has ${intermediatesBelow}`, name);
    }
  }
  return undefined;
}

function fail(reason: PathFailureReason, detail: string, certificate?: string): Failure {
  return certificate === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, certificate };
}

function isWeakSignature(cert: pkijs.Certificate): boolean {
  const algorithm = cert.signatureAlgorithm.algorithmId;
  if (WEAK_SIGNATURE_OIDS.has(algorithm)) return true;
  if (algorithm !== RSASSA_PSS) return false;
  try {
    // Absent hashAlgorithm means SHA-1 (RFC 4055 section 3.1).
    const params = cert.signatureAlgorithm.algorithmParams;
    if (!(params instanceof asn1js.Sequence)) return true;
    return new pkijs.RSASSAPSSParams({ schema: params }).hashAlgorithm.algorithmId === SHA1;
  } catch {
    return true;
  }
}

function pathLenOf(cert: pkijs.Certificate): number | undefined {
  const ext = cert.extensions?.find((e) => e.extnID === '2.5.29.19');
  if (!ext) return undefined;
  try {
    const bc = ext.parsedValue instanceof pkijs.BasicConstraints ? ext.parsedValue : new pkijs.BasicConstraints({ schema: asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result });
    const value = bc.pathLenConstraint;
    if (value === undefined) return undefined;
    return typeof value === 'number' ? value : value.valueBlock.valueDec;
  } catch {
    return 0;
  }
}

/** node:crypto prints names one RDN per line; one line reads better in a verdict. */
export function oneLine(name: string): string {
  return name.split('\n').filter((rdn) => rdn.length > 0).reverse().join(', ');
}
