/**
 * Link secrets of the large-file exchange. A token is 32 random bytes in
 * base64url (43 characters, 256 bits): it is shown once and never stored;
 * the database keeps SHA-256(token) to find the share, and the file key is
 * derived from the token itself, so the database alone opens nothing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Share ids are random too, and unrelated to the token: an id in a log or the CLI reveals nothing about the link. */
export function newShareId(): string {
  return randomBytes(16).toString('hex');
}

/** True for a string that can be a token of ours: 43 base64url characters that decode to exactly 32 bytes. */
export function isTokenShaped(token: string): boolean {
  if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return false;
  // The last character carries 2 padding bits that must be zero; otherwise two spellings would name one secret.
  return Buffer.from(token, 'base64url').toString('base64url') === token;
}

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Constant-time comparison of two token hashes. */
export function sameTokenHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The link a recipient opens: `${publicUrl}/d/${token}`, one slash however publicUrl ends. */
export function shareUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/d/${token}`;
}
