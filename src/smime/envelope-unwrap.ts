/**
 * RecipientInfos (RFC 5652 6.2): find the entries addressed to one of our
 * certificates and recover the content-encryption key from them.
 * KeyTransRecipientInfo: RSAES-PKCS1-v1_5 or RSAES-OAEP. KeyAgreeRecipientInfo:
 * ephemeral-static ECDH (RFC 5753) with or without ukm, X9.63 KDF, AES key
 * wrap. Other kinds (kekri, pwri, ori) are skipped: a gateway holds no
 * shared secrets.
 */
import { constants, createDecipheriv, createPublicKey, diffieHellman, privateDecrypt, type KeyObject } from 'node:crypto';
import { tlv } from './der.js';
import {
  algorithmIdentifier,
  bitStringBytes,
  children,
  isContext,
  issuerAndSerial,
  octets,
  parse,
  raw,
  sequenceItems,
  smallInteger,
  type Node,
} from './envelope-asn1.js';
import { KEY_AGREEMENT_KDF_HASH, KEY_WRAPS, KEY_WRAP_IV, oaepParameters, type KeyManagement } from './envelope-algorithms.js';
import { malformed, unsupported } from './envelope-errors.js';
import { eccCmsSharedInfo, x963Kdf } from './envelope-kdf.js';
import { ENV_OID } from './envelope-oids.js';
import { matchesIssuerSerial, matchesKeyIdentifier, type RecipientIds } from './envelope-recipient.js';

export interface OwnRecipient {
  readonly certificate: Buffer;
  readonly privateKey: KeyObject;
  readonly ids: RecipientIds;
}

/** A RecipientInfo addressed to one of our keys; `unwrap` throws (any error) when the key cannot be recovered. */
export interface Candidate {
  readonly recipient: OwnRecipient;
  readonly keyManagement: KeyManagement;
  readonly unwrap: () => Buffer;
}

export function candidatesFor(recipientInfos: readonly Node[], own: readonly OwnRecipient[]): Candidate[] {
  const found: Candidate[] = [];
  for (const info of recipientInfos) {
    if (info.idBlock.tagClass === 1 && info.idBlock.tagNumber === 16) found.push(...keyTransport(info, own));
    else if (isContext(info, 1)) found.push(...keyAgreement(info, own));
  }
  return found;
}

function ridMatches(rid: Node | undefined, ids: RecipientIds, what: string): boolean {
  if (isContext(rid, 0)) return matchesKeyIdentifier(ids, octets(rid, `${what} subjectKeyIdentifier`));
  return matchesIssuerSerial(ids, issuerAndSerial(rid, what));
}

function keyTransport(info: Node, own: readonly OwnRecipient[]): Candidate[] {
  const [version, rid, algorithm, encryptedKey] = sequenceItems(info, 'KeyTransRecipientInfo');
  smallInteger(version, 'KeyTransRecipientInfo version');
  const alg = algorithmIdentifier(algorithm, 'keyEncryptionAlgorithm');
  const key = octets(encryptedKey, 'encryptedKey');
  const matching = own.filter((recipient) => recipient.privateKey.asymmetricKeyType === 'rsa' && ridMatches(rid, recipient.ids, 'KeyTransRecipientInfo rid'));
  if (matching.length === 0) return [];
  if (alg.oid === ENV_OID.rsaEncryption) {
    return matching.map((recipient) => ({
      recipient,
      keyManagement: 'rsa-pkcs1',
      // OpenSSL 3.2+ (Node 24) answers a bad PKCS #1 v1.5 block with a random key (implicit rejection), not an error.
      unwrap: () => privateDecrypt({ key: recipient.privateKey, padding: constants.RSA_PKCS1_PADDING }, key),
    }));
  }
  if (alg.oid === ENV_OID.rsaesOaep) {
    const oaep = oaepParameters(alg.parameters);
    return matching.map((recipient) => ({
      recipient,
      keyManagement: 'rsa-oaep',
      unwrap: () =>
        privateDecrypt(
          { key: recipient.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: oaep.hash, ...(oaep.label ? { oaepLabel: oaep.label } : {}) },
          key,
        ),
    }));
  }
  throw unsupported(`${alg.oid} for key transport`);
}

function keyAgreement(info: Node, own: readonly OwnRecipient[]): Candidate[] {
  const fields = children(info, 'KeyAgreeRecipientInfo');
  let index = 0;
  smallInteger(fields[index++], 'KeyAgreeRecipientInfo version');
  const originator = fields[index++];
  if (!isContext(originator, 0)) throw malformed('KeyAgreeRecipientInfo has no originator');
  let ukm: Buffer | undefined;
  if (isContext(fields[index], 1)) ukm = octets(children(fields[index++], 'ukm')[0], 'ukm');
  const alg = algorithmIdentifier(fields[index++], 'keyEncryptionAlgorithm');
  const encryptedKeys = sequenceItems(fields[index++], 'recipientEncryptedKeys');

  const addressed: Array<{ recipient: OwnRecipient; wrapped: Buffer }> = [];
  for (const encrypted of encryptedKeys) {
    const [rid, wrappedKey] = sequenceItems(encrypted, 'RecipientEncryptedKey');
    const wrapped = octets(wrappedKey, 'RecipientEncryptedKey encryptedKey');
    for (const recipient of own) {
      if (recipient.privateKey.asymmetricKeyType !== 'ec') continue;
      // rKeyId [0] IMPLICIT RecipientKeyIdentifier: its first field is the subjectKeyIdentifier.
      const matches = isContext(rid, 0)
        ? matchesKeyIdentifier(recipient.ids, octets(children(rid, 'rKeyId')[0], 'rKeyId subjectKeyIdentifier'))
        : matchesIssuerSerial(recipient.ids, issuerAndSerial(rid, 'RecipientEncryptedKey rid'));
      if (matches) addressed.push({ recipient, wrapped });
    }
  }
  // Algorithms are judged only for entries addressed to us: another recipient's exotic scheme is not our failure.
  if (addressed.length === 0) return [];

  const kdfHash = KEY_AGREEMENT_KDF_HASH.get(alg.oid);
  if (!kdfHash) throw unsupported(`${alg.oid} for key agreement`);
  const wrapOid = algorithmIdentifier(alg.parameters, 'KeyWrapAlgorithm').oid;
  const wrap = KEY_WRAPS.get(wrapOid);
  if (!wrap) throw unsupported(`${wrapOid} for key wrap`);

  // Only an ephemeral originatorKey ([1]) is usable: static originator certificates are not in ECDH S/MIME practice.
  const originatorKey = children(originator, 'originator')[0];
  if (!isContext(originatorKey, 1)) throw unsupported('key agreement with a static originator certificate');
  const [originatorAlgorithm, originatorPublicKey] = children(originatorKey, 'originatorKey');
  const originatorAlg = algorithmIdentifier(originatorAlgorithm, 'originatorKey algorithm');
  if (originatorAlg.oid !== ENV_OID.ecPublicKey) throw unsupported(`${originatorAlg.oid} as originator key`);
  const point = bitStringBytes(originatorPublicKey, 'originator public key');

  return addressed.map(({ recipient, wrapped }) => ({
    recipient,
    keyManagement: 'ecdh',
    unwrap: () => {
      const peer = originatorPublicKeyOn(recipient.privateKey, point);
      const shared = diffieHellman({ privateKey: recipient.privateKey, publicKey: peer });
      const kek = x963Kdf(kdfHash, shared, eccCmsSharedInfo(wrapOid, wrap.keyBytes, ukm), wrap.keyBytes);
      const decipher = createDecipheriv(wrap.cipher, kek, KEY_WRAP_IV);
      return Buffer.concat([decipher.update(wrapped), decipher.final()]);
    },
  }));
}

/**
 * The originator's point on the recipient's curve: RFC 5753 lets the
 * sender omit the curve (absent or NULL parameters, what OpenSSL writes),
 * so the SubjectPublicKeyInfo is rebuilt with the recipient key's own
 * AlgorithmIdentifier. node:crypto rejects points that are not on it.
 */
function originatorPublicKeyOn(privateKey: KeyObject, point: Buffer): KeyObject {
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const [algorithm] = sequenceItems(parseSpki(spki), 'recipient SubjectPublicKeyInfo');
  if (!algorithm) throw malformed('recipient key has no algorithm');
  const bitString = tlv(0x03, Buffer.from([0]), point);
  return createPublicKey({ key: tlv(0x30, raw(algorithm), bitString), format: 'der', type: 'spki' });
}

function parseSpki(spki: Buffer): Node {
  return parse(spki, { maxBytes: 4096, maxNodes: 64, maxDepth: 8 }, 'SubjectPublicKeyInfo');
}
