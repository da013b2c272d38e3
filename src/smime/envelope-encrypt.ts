/**
 * Encryption of replies to harvested certificates: AES-256-GCM in
 * AuthEnvelopedData when every recipient advertises AES-GCM, else
 * AES-256-CBC in EnvelopedData (what every client reads). Per recipient:
 * RSA keys get RSAES-OAEP with SHA-256 when they advertise it, else
 * RSAES-PKCS1-v1_5 (what Outlook expects); EC keys get ephemeral-static
 * ECDH, dhSinglePass-stdDH-sha256kdf-scheme with aes256-wrap.
 *
 * No ukm is sent: the ephemeral key already makes every KEK fresh
 * (RFC 5753 3.1.1 makes ukm optional), and OpenSSL and NSS send none, so
 * no peer is left out by a field only some read.
 */
import { constants, createCipheriv, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { encryptChunks } from '../crypto/bulk-crypto.js';
import { canEncrypt, parseCertificate, certificatePublicKey } from '../pki/certificate-info.js';
import { certificateRef, issuerAndSerialNumber } from './certificate-ref.js';
import { header, NULL, octetString, oid, sequence, setOf, tlv } from './der.js';
import { KEY_WRAP_IV } from './envelope-algorithms.js';
import { bitStringBytes, parse, sequenceItems } from './envelope-asn1.js';
import { EnvelopeError } from './envelope-errors.js';
import { eccCmsSharedInfo, x963Kdf } from './envelope-kdf.js';
import { ENV_OID } from './envelope-oids.js';

export interface EncryptionRecipient {
  /** The recipient's encryption certificate, DER. */
  readonly certificate: Buffer;
  /** SMIMECapabilities OIDs the recipient advertised, in its order of preference. */
  readonly capabilities?: readonly string[];
}

export interface EncryptOptions {
  /** 'auto' (default): GCM only when every recipient advertises it. */
  readonly prefer?: 'auto' | 'gcm' | 'cbc';
}

const GCM_NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;
const CEK_BYTES = 32;

/** Returns the DER ContentInfo. Throws EnvelopeError('unusable-certificate') for keys that must not be encrypted to. */
export async function encryptEnvelope(
  content: Buffer | readonly Buffer[],
  recipients: readonly EncryptionRecipient[],
  options: EncryptOptions = {},
): Promise<Buffer> {
  const { der } = await encryptEnvelopeChunks(content, recipients, options);
  return Buffer.concat(der, chunkLength(der));
}

export interface EnvelopeChunks {
  /** The DER ContentInfo as chunks in order: the structure's headers and the ciphertext pieces, never joined. */
  readonly der: Buffer[];
  /** AuthEnvelopedData (AES-GCM) rather than EnvelopedData (AES-CBC). */
  readonly authenticated: boolean;
}

/** encryptEnvelope without the final copy: a 50 MB message is encrypted into chunks that go on to base64 as they are. */
export async function encryptEnvelopeChunks(
  content: Buffer | readonly Buffer[],
  recipients: readonly EncryptionRecipient[],
  options: EncryptOptions = {},
): Promise<EnvelopeChunks> {
  // Async by contract, like decryptEnvelope.
  await Promise.resolve();
  if (recipients.length === 0) throw new EnvelopeError('unusable-certificate', 'no recipients to encrypt to');
  const chunks = Buffer.isBuffer(content) ? [content] : content;
  const gcm = useGcm(recipients, options.prefer ?? 'auto');
  const cek = randomBytes(CEK_BYTES);
  const recipientInfos = recipients.map((recipient) => recipientInfo(recipient, cek));

  if (gcm) {
    const nonce = randomBytes(GCM_NONCE_BYTES);
    // Large content is encrypted on a worker thread (bulk-crypto.ts), so other connections are not stalled meanwhile.
    const { chunks: encrypted, tag } = await encryptChunks('aes-256-gcm', cek, nonce, chunks, { authTagLength: GCM_TAG_BYTES });
    const parameters = sequence(octetString(nonce), tlv(0x02, Buffer.from([GCM_TAG_BYTES])));
    const authEnvelopedData = sequenceChunks([integer(0), setOf(recipientInfos)], encryptedContentInfo(ENV_OID.aes256Gcm, parameters, encrypted), [octetString(tag as Buffer)]);
    return { der: contentInfo(ENV_OID.authEnvelopedData, authEnvelopedData), authenticated: true };
  }
  const iv = randomBytes(16);
  const { chunks: encrypted } = await encryptChunks('aes-256-cbc', cek, iv, chunks);
  // RFC 5652 6.1: version 2 as soon as one RecipientInfo is not version 0 (kari is version 3).
  const allKeyTransport = recipients.every((recipient) => keyTypeOf(recipient.certificate) === 'rsa');
  const envelopedData = sequenceChunks([integer(allKeyTransport ? 0 : 2), setOf(recipientInfos)], encryptedContentInfo(ENV_OID.aes256Cbc, octetString(iv), encrypted), []);
  return { der: contentInfo(ENV_OID.envelopedData, envelopedData), authenticated: false };
}

function useGcm(recipients: readonly EncryptionRecipient[], prefer: 'auto' | 'gcm' | 'cbc'): boolean {
  if (prefer !== 'auto') return prefer === 'gcm';
  return recipients.every((recipient) => (recipient.capabilities ?? []).some((capability) => capability === ENV_OID.aes256Gcm || capability === ENV_OID.aes128Gcm));
}

function integer(value: number): Buffer {
  return tlv(0x02, Buffer.from([value]));
}

/*
 * The ciphertext is as large as the message. The structure around it is
 * built as a list of chunks (headers plus views of the ciphertext), never
 * joined on the way to the MIME layer, which base64-encodes them as they are.
 */
function chunkLength(chunks: readonly Buffer[]): number {
  return chunks.reduce((sum, chunk) => sum + chunk.length, 0);
}

function tlvChunks(tag: number, chunks: readonly Buffer[]): Buffer[] {
  return [header(tag, chunkLength(chunks)), ...chunks];
}

function sequenceChunks(before: readonly Buffer[], middle: readonly Buffer[], after: readonly Buffer[]): Buffer[] {
  return tlvChunks(0x30, [...before, ...middle, ...after]);
}

function contentInfo(type: string, content: readonly Buffer[]): Buffer[] {
  return tlvChunks(0x30, [oid(type), ...tlvChunks(0xa0, content)]);
}

function encryptedContentInfo(algorithm: string, parameters: Buffer, encrypted: readonly Buffer[]): Buffer[] {
  // encryptedContent [0] IMPLICIT OCTET STRING, primitive and definite: DER, readable by every peer.
  return tlvChunks(0x30, [oid(ENV_OID.data), sequence(oid(algorithm), parameters), ...tlvChunks(0x80, encrypted)]);
}

function keyTypeOf(certificate: Buffer): string | undefined {
  return certificatePublicKey(certificate).asymmetricKeyType;
}

function recipientInfo(recipient: EncryptionRecipient, cek: Buffer): Buffer {
  let info;
  try {
    info = parseCertificate(recipient.certificate);
  } catch (cause) {
    throw new EnvelopeError('unusable-certificate', 'recipient certificate is not a DER X.509 certificate', { cause });
  }
  // DESIGN.md: a sign-only certificate is never used to encrypt (RFC 8550 4.4.2).
  if (!canEncrypt(info)) throw new EnvelopeError('unusable-certificate', `certificate ${info.subject} (serial ${info.serialHex}) does not allow key encipherment or key agreement`);
  const publicKey = certificatePublicKey(recipient.certificate);
  const rid = issuerAndSerialNumber(certificateRef(recipient.certificate));
  if (info.publicKey.algorithm === 'rsa') return keyTransportInfo(publicKey, rid, cek, (recipient.capabilities ?? []).includes(ENV_OID.rsaesOaep));
  if (info.publicKey.algorithm === 'ec') return keyAgreementInfo(publicKey, rid, cek);
  throw new EnvelopeError('unusable-certificate', `cannot encrypt to a ${info.publicKey.algorithm} key`);
}

/** RSAES-OAEP-params for SHA-256 (RFC 4055 4.1); hash parameters absent, as OpenSSL writes them. */
const OAEP_SHA256 = sequence(
  oid(ENV_OID.rsaesOaep),
  sequence(tlv(0xa0, sequence(oid(ENV_OID.sha256))), tlv(0xa1, sequence(oid(ENV_OID.mgf1), sequence(oid(ENV_OID.sha256))))),
);
const RSA_PKCS1 = sequence(oid(ENV_OID.rsaEncryption), NULL);

function keyTransportInfo(publicKey: KeyObject, rid: Buffer, cek: Buffer, oaep: boolean): Buffer {
  const encryptedKey = oaep
    ? publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek)
    : publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, cek);
  return sequence(integer(0), rid, oaep ? OAEP_SHA256 : RSA_PKCS1, octetString(encryptedKey));
}

function keyAgreementInfo(publicKey: KeyObject, rid: Buffer, cek: Buffer): Buffer {
  const namedCurve = publicKey.asymmetricKeyDetails?.namedCurve;
  if (namedCurve === undefined) throw new EnvelopeError('unusable-certificate', 'EC key without a named curve');
  const ephemeral = generateKeyPairSync('ec', { namedCurve });
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey });
  const kek = x963Kdf('sha256', shared, eccCmsSharedInfo(ENV_OID.aes256Wrap, 32, undefined), 32);
  const wrapper = createCipheriv('id-aes256-wrap', kek, KEY_WRAP_IV);
  const wrapped = Buffer.concat([wrapper.update(cek), wrapper.final()]);
  const point = ephemeralPoint(ephemeral.publicKey);
  // originatorKey [1] IMPLICIT: id-ecPublicKey with absent parameters (the curve is the recipient's, RFC 5753 3.1.1).
  const originator = tlv(0xa0, tlv(0xa1, sequence(oid(ENV_OID.ecPublicKey)), tlv(0x03, Buffer.from([0]), point)));
  const keyEncryptionAlgorithm = sequence(oid(ENV_OID.dhSinglePassStdDhSha256Kdf), sequence(oid(ENV_OID.aes256Wrap)));
  const recipientEncryptedKeys = sequence(sequence(rid, octetString(wrapped)));
  return tlv(0xa1, integer(3), originator, keyEncryptionAlgorithm, recipientEncryptedKeys);
}

function ephemeralPoint(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const [, key] = sequenceItems(parse(spki, { maxBytes: 4096, maxNodes: 64, maxDepth: 8 }, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  return bitStringBytes(key, 'ephemeral public key');
}

