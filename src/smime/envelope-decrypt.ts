/**
 * Decryption of inbound S/MIME: ContentInfo with EnvelopedData (RFC 5652
 * 6) or AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084), for the
 * mailboxes enrolled here. Built on node:crypto and asn1js because pkijs
 * lacks AuthEnvelopedData and fails on ECDH without ukm (DESIGN.md).
 */
import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { decryptChunks } from '../crypto/bulk-crypto.js';
import { children, isContext, octets, oidOf, parse, raw, sequenceItems, setItems, smallInteger, type Node } from './envelope-asn1.js';
import { contentParameters, type ContentEncryption, type ContentParameters, type KeyManagement } from './envelope-algorithms.js';
import { EnvelopeError, decryptionFailed, malformed } from './envelope-errors.js';
import { BerReader, expectTag, type BerNode } from './ber-reader.js';
import { ENV_OID } from './envelope-oids.js';
import { recipientIds } from './envelope-recipient.js';
import { candidatesFor, type OwnRecipient } from './envelope-unwrap.js';

export interface DecryptionKey {
  /** The enrolled certificate, DER. */
  readonly certificate: Buffer;
  readonly privateKey: KeyObject;
}

export interface DecryptLimits {
  /** Largest ContentInfo accepted, bytes (default 64 MiB). */
  readonly maxBytes?: number;
  /** Most RecipientInfos looked at (default 1000): each may cost a private-key operation. */
  readonly maxRecipientInfos?: number;
  /** Most RecipientInfos addressed to our keys that are tried (default 8): a real message names each certificate once. */
  readonly maxKeyAttempts?: number;
}

export interface DecryptedEnvelope {
  readonly content: Buffer;
  readonly contentEncryption: ContentEncryption;
  readonly keyManagement: KeyManagement;
  /** True for AuthEnvelopedData whose tag verified (integrity, not origin). */
  readonly authenticated: boolean;
  /** The certificate (DER) whose key opened the message. */
  readonly recipient: Buffer;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_RECIPIENT_INFOS = 1000;
const DEFAULT_MAX_KEY_ATTEMPTS = 8;

interface Envelope {
  readonly authenticated: boolean;
  readonly recipientInfos: Node[];
  readonly parameters: ContentParameters;
  readonly encryptedContent: Buffer;
  /** AuthEnvelopedData: DER of authAttrs as SET OF (RFC 5083 2.1), empty when absent. */
  readonly aad: Buffer;
  readonly mac: Buffer;
}

/**
 * Throws EnvelopeError: 'malformed' / 'too-large' for bad input,
 * 'unsupported-algorithm', 'no-recipient' ("no recipient matches") and
 * 'decryption-failed' (one message for every cryptographic failure).
 */
export async function decryptEnvelope(der: Buffer, recipients: readonly DecryptionKey[], limits: DecryptLimits = {}): Promise<DecryptedEnvelope> {
  // Async by contract: a later version may move the private-key work to a worker or an HSM.
  await Promise.resolve();
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxRecipientInfos = limits.maxRecipientInfos ?? DEFAULT_MAX_RECIPIENT_INFOS;
  // Counted before asn1js builds objects for them: thousands of RecipientInfos would cost seconds of parsing first.
  if (recipientInfoCount(der, maxRecipientInfos) > maxRecipientInfos) throw new EnvelopeError('too-large', `more than ${maxRecipientInfos} recipients`);
  // BER chunks cost one node each: one node per 64 bytes is ample (NSS and gpgsm chunk at 512+ bytes), tinier chunking is refused.
  const root = parse(der, { maxBytes, maxNodes: 10_000 + Math.ceil(der.length / 64), maxDepth: 64 }, 'ContentInfo');
  const envelope = readEnvelope(root);
  if (envelope.recipientInfos.length > (limits.maxRecipientInfos ?? DEFAULT_MAX_RECIPIENT_INFOS)) {
    throw new EnvelopeError('too-large', `more than ${limits.maxRecipientInfos ?? DEFAULT_MAX_RECIPIENT_INFOS} recipients`);
  }
  const own: OwnRecipient[] = recipients.map((recipient) => ({ ...recipient, ids: recipientIds(recipient.certificate) }));
  const candidates = candidatesFor(envelope.recipientInfos, own);
  if (candidates.length === 0) throw new EnvelopeError('no-recipient', 'no recipient matches');

  for (const candidate of candidates.slice(0, limits.maxKeyAttempts ?? DEFAULT_MAX_KEY_ATTEMPTS)) {
    const key = recoverKey(candidate.unwrap, envelope.parameters.cipher.keyBytes);
    let content: Buffer | undefined;
    try {
      content = await decryptContent(envelope, key);
    } catch {
      content = undefined;
    }
    if (content !== undefined) {
      return {
        content,
        contentEncryption: envelope.parameters.cipher.name,
        keyManagement: candidate.keyManagement,
        authenticated: envelope.authenticated,
        recipient: candidate.recipient.certificate,
      };
    }
  }
  throw decryptionFailed();
}

/**
 * How many RecipientInfos the envelope holds (up to max + 1), read with the
 * bounded BER reader; 0 when the structure is not what it should be (the
 * full parse below then says why).
 */
function recipientInfoCount(der: Buffer, max: number): number {
  let ber: BerReader;
  let recipientInfos: BerNode;
  try {
    ber = new BerReader(der);
    const [, wrapped] = ber.children(expectTag(ber.read(0, der.length, 0), 0x30, 'ContentInfo'));
    const [body] = ber.children(expectTag(wrapped, 0xa0, 'content'));
    const fields = ber.children(expectTag(body, 0x30, 'EnvelopedData'), 8);
    recipientInfos = expectTag(fields[1]?.tag === 0xa0 ? fields[2] : fields[1], 0x31, 'RecipientInfos');
  } catch {
    return 0;
  }
  let count = 0;
  try {
    for (let pos = recipientInfos.contentStart; pos < recipientInfos.contentEnd && count <= max; count++) pos = ber.read(pos, recipientInfos.contentEnd, 2).end;
  } catch {
    return 0;
  }
  return count;
}

function readEnvelope(root: Node): Envelope {
  const [contentType, wrapped, ...extra] = sequenceItems(root, 'ContentInfo');
  const type = oidOf(contentType, 'ContentInfo contentType');
  if (type !== ENV_OID.envelopedData && type !== ENV_OID.authEnvelopedData) throw malformed(`content type ${type} is not EnvelopedData or AuthEnvelopedData`);
  if (!isContext(wrapped, 0) || extra.length > 0) throw malformed('ContentInfo content is not [0] EXPLICIT');
  const authenticated = type === ENV_OID.authEnvelopedData;
  const fields = sequenceItems(children(wrapped, 'ContentInfo content')[0], authenticated ? 'AuthEnvelopedData' : 'EnvelopedData');

  let index = 0;
  smallInteger(fields[index++], 'version');
  if (isContext(fields[index], 0)) index++; // originatorInfo: certificates and CRLs we do not need
  const recipientInfos = setItems(fields[index++], 'RecipientInfos');
  const [innerType, algorithm, encrypted, ...rest] = sequenceItems(fields[index++], 'EncryptedContentInfo');
  oidOf(innerType, 'EncryptedContentInfo contentType');
  if (rest.length > 0) throw malformed('EncryptedContentInfo has extra fields');
  const parameters = contentParameters(algorithm);
  if (!isContext(encrypted, 0)) throw malformed('encryptedContent is absent (detached content is not supported)');
  const encryptedContent = octets(encrypted, 'encryptedContent');

  if (!authenticated) {
    if (parameters.cipher.mode !== 'cbc') throw malformed(`${parameters.cipher.name} needs AuthEnvelopedData`);
    return { authenticated, recipientInfos, parameters, encryptedContent, aad: Buffer.alloc(0), mac: Buffer.alloc(0) };
  }
  if (parameters.cipher.mode !== 'gcm') throw malformed(`${parameters.cipher.name} is not an authenticated cipher`);
  let aad: Buffer = Buffer.alloc(0);
  const authAttrs = fields[index];
  if (authAttrs !== undefined && isContext(authAttrs, 1)) {
    // RFC 5083 2.1: the MAC covers the DER of authAttrs with a universal SET OF tag instead of [1] IMPLICIT.
    aad = raw(authAttrs);
    aad[0] = 0x31;
    index++;
  }
  const mac = octets(fields[index], 'mac');
  if (mac.length !== parameters.tagBytes) throw malformed('mac length differs from aes-ICVlen');
  return { authenticated, recipientInfos, parameters, encryptedContent, aad, mac };
}

/**
 * The content key, or a random one of the right length when the key
 * cannot be recovered or has the wrong length. The content is then
 * decrypted either way, so neither the reply nor its timing tells a bad
 * RSA block from a bad content key (RFC 3218 2.3.2, what OpenSSL's CMS
 * does): a Bleichenbacher/Manger oracle needs exactly that difference.
 */
function recoverKey(unwrap: () => Buffer, keyBytes: number): Buffer {
  try {
    const key = unwrap();
    if (key.length === keyBytes) return key;
  } catch {
    // fall through to the random key
  }
  return randomBytes(keyBytes);
}

/** Large content is decrypted on a worker thread (bulk-crypto.ts), so other connections are not stalled meanwhile. */
async function decryptContent(envelope: Envelope, key: Buffer): Promise<Buffer> {
  const { cipher, iv, tagBytes } = envelope.parameters;
  const input = [envelope.encryptedContent];
  if (cipher.mode === 'gcm') {
    const aad = envelope.aad.length > 0 ? { aad: envelope.aad } : {};
    return Buffer.concat(await decryptChunks(cipher.name, key, iv, input, { authTagLength: tagBytes, authTag: envelope.mac, ...aad }));
  }
  // PKCS #7 padding is checked by final(); its failure is reported like any other (decryptionFailed).
  return Buffer.concat(await decryptChunks(cipher.name, key, iv, input));
}
