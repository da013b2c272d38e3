/**
 * Structured failures of CMS enveloping. The reason is a string union so
 * callers (the inbound pipeline) decide on it, never on message text.
 * Every key or content decryption failure is the one reason
 * 'decryption-failed' with one message: a wrong key, a bad PKCS #1 v1.5
 * block (implicitly rejected by OpenSSL, Marvin), a failed key unwrap, a bad
 * CBC padding and a wrong GCM tag must look alike to whoever sent the
 * message.
 */
import { SiegelError, type ErrorCode } from '../errors.js';

export type EnvelopeFailure =
  | 'malformed'
  | 'too-large'
  | 'unsupported-algorithm'
  | 'no-recipient'
  | 'decryption-failed'
  | 'unusable-certificate';

const CODES: Record<EnvelopeFailure, ErrorCode> = {
  malformed: 'MESSAGE_MALFORMED',
  'too-large': 'MESSAGE_LIMITS_EXCEEDED',
  'unsupported-algorithm': 'MESSAGE_MALFORMED',
  'no-recipient': 'MESSAGE_MALFORMED',
  'decryption-failed': 'MESSAGE_MALFORMED',
  // Encrypting to a certificate that must not be used is our own mistake (policy let it through).
  'unusable-certificate': 'INTERNAL',
};

export class EnvelopeError extends SiegelError {
  readonly reason: EnvelopeFailure;

  constructor(reason: EnvelopeFailure, detail: string, options?: { cause?: unknown }) {
    super(CODES[reason], detail, options);
    this.name = 'EnvelopeError';
    this.reason = reason;
  }
}

export const DECRYPTION_FAILED = 'decryption failed';

export function decryptionFailed(): EnvelopeError {
  // No cause: the underlying OpenSSL error could tell padding from integrity failures.
  return new EnvelopeError('decryption-failed', DECRYPTION_FAILED);
}

export function malformed(what: string): EnvelopeError {
  return new EnvelopeError('malformed', `malformed CMS: ${what}`);
}

export function unsupported(what: string): EnvelopeError {
  return new EnvelopeError('unsupported-algorithm', `unsupported algorithm ${what}`);
}
