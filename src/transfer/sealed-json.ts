/**
 * Small records sealed with a key derived from a link secret (AES-256-GCM,
 * HKDF-SHA256): an upload's share options (file name, password) and its
 * result (the share link) sit in the database, readable only by whoever
 * holds the upload URL.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const NONCE = 12;
const TAG = 16;

function sealKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'base64url'), Buffer.from(purpose, 'utf8'), 'siegel/sealed-json/v1', 32));
}

export function sealJson(secret: string, purpose: string, value: unknown): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', sealKey(secret, purpose), nonce);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** The value, or undefined when the secret is wrong or the record was altered. */
export function openJson(secret: string, purpose: string, sealed: Buffer): unknown {
  if (sealed.length < NONCE + TAG) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKey(secret, purpose), sealed.subarray(0, NONCE));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    const plain = Buffer.concat([decipher.update(sealed.subarray(NONCE, sealed.length - TAG)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
