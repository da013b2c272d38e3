/**
 * CMS SignedData for S/MIME (RFC 5652 section 5, RFC 8551): one signer,
 * SHA-256, signed attributes, certificates without the root. The content is
 * hashed chunk by chunk and copied only when it must be embedded (opaque
 * signing); the structure is written as DER from encoded pieces so the
 * signed-attribute octets in SignerInfo are exactly the octets signed.
 */
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { digestChunks } from '../crypto/bulk-crypto.js';
import { errorMessage, SiegelError } from '../errors.js';
import type { SigningIdentity } from '../keystore/identity.js';
import { SHA256_ALGORITHM } from './algorithms.js';
import { signedAttributes } from './attributes.js';
import { header, octetString, oid, sequence, setOf, TAG } from './der.js';
import { OID } from './oids.js';
import { signerTemplate } from './signer-template.js';

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
    const template = signerTemplate(identity);
    const attributes = signedAttributes(template.staticAttributes, { messageDigest: await sha256(chunks), signingTime: options.signingTime });
    const signature = await signAttributeBytes(template.algorithm.digest, attributes.signedBytes, identity.privateKey);
    const signerInfo = sequence(
      VERSION_1,
      template.signerIdentifier,
      SHA256_ALGORITHM,
      attributes.signerInfoField,
      template.algorithm.identifier,
      octetString(signature),
    );
    return contentInfo(options.detached ? undefined : chunks, template.certificates, signerInfo);
  } catch (err) {
    if (err instanceof SiegelError) throw err;
    throw new SiegelError('SIGNING_FAILED', `signing for ${identity.mailbox} failed: ${errorMessage(err)}`, { cause: err });
  }
}

/** On a worker thread for large content (25 MB: about 15 ms the event loop would otherwise stall), inline for small. */
function sha256(chunks: readonly Buffer[]): Promise<Buffer> {
  return digestChunks('sha256', chunks);
}

/**
 * RSA signatures (0.8 ms for RSA-3072) run on libuv's threadpool through
 * crypto.sign's callback, so they do not stall the event loop. An ECDSA
 * signature costs about 20 µs, less than handing it to the threadpool and
 * back (about 40 µs of CPU), so it is made on the spot.
 */
function signAttributeBytes(digest: string, data: Buffer, key: KeyObject): Promise<Buffer> {
  // RSA keys default to PKCS #1 v1.5 padding, EC keys to a DER Ecdsa-Sig-Value: what CMS wants.
  if (key.asymmetricKeyType === 'ec') return Promise.resolve(cryptoSign(digest, data, key));
  return new Promise((resolve, reject) => {
    cryptoSign(digest, data, key, (error, signature) => (error ? reject(error) : resolve(signature)));
  });
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
