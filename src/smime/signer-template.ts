/**
 * Everything of a SignerInfo and SignedData that depends only on the
 * identity, encoded once: the signer reference, the algorithm, the
 * certificate set and the signed attributes that do not change from message
 * to message (content type, capabilities, signing certificate, encryption
 * key preference). A gateway signs thousands of messages with a handful of
 * identities; per message only the signing time and the digest are new.
 *
 * Kept per certificate Buffer object (the keystore hands out the same one
 * until the identity changes) and rebuilt when the key, chain or encryption
 * certificate differs, so a renewal or a changed chain is never signed with
 * a stale template.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { SigningIdentity } from '../keystore/identity.js';
import { signatureAlgorithmFor, type SignatureAlgorithm } from './algorithms.js';
import { staticSignedAttributes } from './attributes.js';
import { certificateRef, isSelfSigned, issuerAndSerialNumber } from './certificate-ref.js';
import { setOf, TAG } from './der.js';

export interface SignerTemplate {
  readonly algorithm: SignatureAlgorithm;
  /** IssuerAndSerialNumber of the signer certificate (SignerIdentifier). */
  readonly signerIdentifier: Buffer;
  /** certificates [0] IMPLICIT CertificateSet, DER-sorted. */
  readonly certificates: Buffer;
  /** The encoded attributes that are the same for every message, unsorted. */
  readonly staticAttributes: readonly Buffer[];
}

interface Entry {
  readonly key: KeyObject;
  readonly chain: readonly Buffer[];
  readonly encryptionCertificate: Buffer | undefined;
  readonly template: SignerTemplate;
}

const templates = new WeakMap<Buffer, Entry>();

/** @throws Error when the private key does not belong to the certificate (a key/certificate mix-up no peer would accept). */
export function signerTemplate(identity: SigningIdentity): SignerTemplate {
  const known = templates.get(identity.certificate);
  if (
    known &&
    known.key === identity.privateKey &&
    known.encryptionCertificate === identity.encryptionCertificate &&
    sameBuffers(known.chain, identity.chain)
  ) {
    return known.template;
  }
  const template = buildTemplate(identity);
  templates.set(identity.certificate, {
    key: identity.privateKey,
    chain: identity.chain,
    encryptionCertificate: identity.encryptionCertificate,
    template,
  });
  return template;
}

function buildTemplate(identity: SigningIdentity): SignerTemplate {
  if (!new X509Certificate(identity.certificate).checkPrivateKey(identity.privateKey)) {
    throw new Error('private key does not belong to the signer certificate');
  }
  const signer = certificateRef(identity.certificate);
  return {
    algorithm: signatureAlgorithmFor(identity.privateKey),
    signerIdentifier: issuerAndSerialNumber(signer),
    certificates: certificateSet(identity),
    staticAttributes: staticSignedAttributes(signer, identity.encryptionCertificate ? certificateRef(identity.encryptionCertificate) : undefined),
  };
}

function sameBuffers(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((buf, i) => buf === b[i]);
}

/**
 * Signer certificate, issuing CAs and the encryption certificate, each once.
 * Roots are left out (RFC 8551 leaves it open; a root in the message is
 * never a trust anchor and only adds bytes), even if a keystore chain has one.
 */
function certificateSet(identity: SigningIdentity): Buffer {
  const candidates = [identity.certificate, ...identity.chain, ...(identity.encryptionCertificate ? [identity.encryptionCertificate] : [])];
  const chosen: Buffer[] = [];
  for (const cert of candidates) {
    if (chosen.some((c) => c.equals(cert))) continue;
    if (cert !== identity.certificate && isSelfSigned(cert)) continue;
    chosen.push(cert);
  }
  // certificates [0] IMPLICIT CertificateSet: a SET OF, so DER-sorted like any other.
  return setOf(chosen, TAG.CONTEXT_0);
}
