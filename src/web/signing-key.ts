/**
 * HMAC helpers for the web edge's cookies and form tokens. One secret,
 * separate purposes by label, constant-time comparison.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export class SigningKey {
  private readonly secret: Buffer;

  constructor(secret?: Uint8Array) {
    this.secret = secret ? Buffer.from(secret) : randomBytes(32);
  }

  sign(purpose: string, ...parts: readonly string[]): string {
    const mac = createHmac('sha256', this.secret);
    mac.update(purpose);
    for (const part of parts) mac.update(`\0${part}`);
    return mac.digest('base64url');
  }

  verify(mac: string, purpose: string, ...parts: readonly string[]): boolean {
    const expected = Buffer.from(this.sign(purpose, ...parts));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

export function randomId(): string {
  return randomBytes(18).toString('base64url');
}

/** A token's reference for logs and grants: a short SHA-256 prefix, never the token. */
export function tokenRef(token: string, length = 12): string {
  return createHash('sha256').update(token).digest('hex').slice(0, length);
}
