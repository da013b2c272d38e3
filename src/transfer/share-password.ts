/**
 * Download passwords: stored as scrypt hashes in the `$scrypt$N=...$salt$hash`
 * format of the SMTP credentials file (src/smtp/credentials.ts), checked off
 * the event loop and compared in constant time there.
 */
import { SiegelError } from '../errors.js';
import { hashPassword, verifyPassword } from '../smtp/credentials.js';

/** Longer passwords are refused: scrypt of megabytes of input would be a cheap way to burn CPU. */
export const MAX_SHARE_PASSWORD_LENGTH = 1024;

export function validateSharePassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0) throw new SiegelError('INVALID_REQUEST', 'the download password is empty');
  if (password.length > MAX_SHARE_PASSWORD_LENGTH) {
    throw new SiegelError('INVALID_REQUEST', `the download password is longer than ${MAX_SHARE_PASSWORD_LENGTH} characters`);
  }
}

export function hashSharePassword(password: string): Promise<string> {
  validateSharePassword(password);
  return hashPassword(password);
}

/** False for a wrong, empty or oversized password. */
export async function sharePasswordMatches(password: string | undefined, encoded: string): Promise<boolean> {
  if (typeof password !== 'string' || password.length === 0 || password.length > MAX_SHARE_PASSWORD_LENGTH) return false;
  return verifyPassword(password, encoded);
}
