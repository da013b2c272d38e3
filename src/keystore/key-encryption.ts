/**
 * Private keys at rest: PKCS#8 DER sealed with AES-256-GCM under a key
 * derived per record by HKDF-SHA256 from the master key and a random salt.
 *
 * Why not encrypted PKCS#8 (PBES2): the master key is already high-entropy,
 * so PBKDF2 rounds would only cost time on every start; PBES2's AES-CBC is
 * not authenticated (a flipped byte surfaces as a key parse error at best);
 * and our own header can carry the master key id, so "encrypted under
 * another master key" is reported as such instead of as damage, which
 * master key rotation will need.
 *
 * Format v1 (all lengths in bytes):
 *   version(1)=0x01 | masterKeyId(8) | salt(16) | iv(12) | ciphertext | tag(16)
 * The header (version..iv) is the GCM additional data, so none of it can be
 * altered without detection.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { SiegelError } from '../errors.js';
import type { MasterKey } from './master-key.js';

const VERSION = 0x01;
const ID_LENGTH = 8;
const SALT_LENGTH = 16;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const HEADER_LENGTH = 1 + ID_LENGTH + SALT_LENGTH + IV_LENGTH;
const INFO = Buffer.from('siegel private key at rest v1');

function recordKey(master: MasterKey, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master.material(), salt, INFO, 32));
}

export function encryptPrivateKey(master: MasterKey, privateKey: KeyObject): Buffer {
  const salt = randomBytes(SALT_LENGTH);
  const iv = randomBytes(IV_LENGTH);
  const header = Buffer.concat([Buffer.from([VERSION]), master.id, salt, iv]);
  const key = recordKey(master, salt);
  const plain = privateKey.export({ format: 'der', type: 'pkcs8' });
  try {
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  } finally {
    // Best effort: do not leave the plaintext key in a heap buffer longer than needed.
    plain.fill(0);
    key.fill(0);
  }
}

/** `label` names the identity in error messages (never key material). */
export function decryptPrivateKey(master: MasterKey, blob: Buffer, label: string): KeyObject {
  if (blob.length < HEADER_LENGTH + TAG_LENGTH + 1 || blob[0] !== VERSION) {
    throw new SiegelError('IDENTITY_UNAVAILABLE', `stored key of ${label} is in an unknown format (version ${blob[0] ?? 'none'})`);
  }
  const header = blob.subarray(0, HEADER_LENGTH);
  const id = blob.subarray(1, 1 + ID_LENGTH);
  if (!id.equals(master.id)) {
    throw new SiegelError(
      'IDENTITY_UNAVAILABLE',
      `stored key of ${label} was encrypted under another master key (id ${id.toString('hex')}, current ${master.id.toString('hex')} from ${master.source})`,
    );
  }
  const salt = blob.subarray(1 + ID_LENGTH, 1 + ID_LENGTH + SALT_LENGTH);
  const iv = blob.subarray(1 + ID_LENGTH + SALT_LENGTH, HEADER_LENGTH);
  const tag = blob.subarray(blob.length - TAG_LENGTH);
  const body = blob.subarray(HEADER_LENGTH, blob.length - TAG_LENGTH);
  const key = recordKey(master, salt);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
    decipher.setAAD(header);
    decipher.setAuthTag(tag);
    plain = Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (err) {
    throw new SiegelError('IDENTITY_UNAVAILABLE', `stored key of ${label} fails its integrity check (damaged record)`, { cause: err });
  } finally {
    key.fill(0);
  }
  try {
    return createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' });
  } finally {
    plain.fill(0);
  }
}
