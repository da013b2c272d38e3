/**
 * CMS SignedData for S/MIME (RFC 5652 section 5, RFC 8551): one signer,
 * SHA-256, signed attributes, certificates without the root. The content is
 * hashed chunk by chunk and copied only when it must be embedded (opaque
 * signing); the structure is written as DER from encoded pieces so the
 * signed-attribute octets in SignerInfo are exactly the octets signed.
 */
import { createHash, sign as cryptoSign, X509Certificate, type KeyObject } from 'node:crypto';
import { errorMessage, SiegelError } from '../errors.js';
import type { SigningIdentity } from '../keystore/identity.js';
import { SHA256_ALGORITHM, signatureAlgorithmFor } from './algorithms.js';
import { buildSignedAttributes } from './attributes.js';
import { certificateRef, isSelfSigned, issuerAndSerialNumber } from './certificate-ref.js';
import { header, octetString, oid, sequence, setOf, TAG } from './der.js';
import { memoKeyMatch } from '../pki/memo.js';
import { OID } from './oids.js';

export interface SignContentOptions {
  /** Goes into the signingTime attribute (whole seconds; RFC 5652 11.3 encoding). */
  readonly signingTime: Date;
  /** true: content travels outside (multipart/signed); false: embedded as eContent (application/pkcs7-mime). */
  readonly detached: boolean;
}

/** CMSVersion 1: issuerAndSerialNumber signer, id-data content, only X.509 v3 certificates (RFC 5652 5.1, 5.3). */
const VERSION_1 = Buffer.from([TAG.INTEGER, 0x01, 0x01]);

/**
 * Signs `content` (the canonical MIME entity, possibly in chunks) for
 * `identity` and returns the DER ContentInfo wrapping the SignedData.
 * Failures surface as SiegelError('SIGNING_FAILED').
 */
export async function signContent(
  content: Buffer | readonly Buffer[],
  identity: SigningIdentity,
  options: SignContentOptions,
): Promise<Buffer> {
  try {
    const chunks: readonly Buffer[] = Buffer.isBuffer(content) ? [content] : content;
    const algorithm = signatureAlgorithmFor(identity.privateKey);
    // A key/certificate mix-up would produce a signature no peer accepts; say so plainly instead.
    if (!keyMatchesCertificate(identity.certificate, identity.privateKey)) {
      throw new Error('private key does not belong to the signer certificate');
    }
    const signer = certificateRef(identity.certificate);
    const attributes = buildSignedAttributes({
      messageDigest: sha256(chunks),
      signingTime: options.signingTime,
      signer,
      encryptionCertificate: identity.encryptionCertificate ? certificateRef(identity.encryptionCertificate) : undefined,
    });
    const signature = await signOffThread(algorithm.digest, attributes.signedBytes, identity.privateKey);
    const signerInfo = sequence(
      VERSION_1,
      issuerAndSerialNumber(signer),
      SHA256_ALGORITHM,
      attributes.signerInfoField,
      algorithm.identifier,
      octetString(signature),
    );
    return contentInfo(options.detached ? undefined : chunks, certificateSet(identity), signerInfo);
  } catch (err) {
    if (err instanceof SiegelError) throw err;
    throw new SiegelError('SIGNING_FAILED', `signing for ${identity.mailbox} failed: ${errorMessage(err)}`, { cause: err });
  }
}

function sha256(chunks: readonly Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest();
}

/** crypto.sign with a callback runs on libuv's threadpool, so a 4096-bit RSA signature does not stall the event loop. */
const keyMatchesCertificate = memoKeyMatch((der, key) => new X509Certificate(der).checkPrivateKey(key));

function signOffThread(digest: string, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // RSA keys default to PKCS #1 v1.5 padding, EC keys to a DER Ecdsa-Sig-Value: what CMS wants.
    cryptoSign(digest, data, key, (error, signature) => (error ? reject(error) : resolve(signature)));
  });
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

/** Identifier and length octets followed by the parts, without concatenating them yet. */
function wrap(tag: number, parts: readonly Buffer[]): Buffer[] {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  return [header(tag, length), ...parts];
}

function contentInfo(embedded: readonly Buffer[] | undefined, certificates: Buffer, signerInfo: Buffer): Buffer {
  // EncapsulatedContentInfo: eContent is [0] EXPLICIT OCTET STRING, absent when detached.
  const encapContentInfo = wrap(TAG.SEQUENCE, [
    oid(OID.data),
    ...(embedded ? wrap(TAG.CONTEXT_0, wrap(TAG.OCTET_STRING, embedded)) : []),
  ]);
  const signedData = wrap(TAG.SEQUENCE, [
    VERSION_1,
    setOf([SHA256_ALGORITHM]),
    ...encapContentInfo,
    certificates,
    setOf([signerInfo]),
  ]);
  // The one copy of the content happens here (opaque signing only).
  return Buffer.concat(wrap(TAG.SEQUENCE, [oid(OID.signedData), ...wrap(TAG.CONTEXT_0, signedData)]));
}
