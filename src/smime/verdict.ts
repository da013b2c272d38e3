import type { PathFailureReason } from '../pki/path-validation.js';

/**
 * The inbound S/MIME verdict (DESIGN rule 4): a result from RFC 7281's
 * `smime` method, a machine-readable reason and the signer, never a boolean.
 *
 * Mapping rule used throughout (RFC 7281 section 3.2, read for a gateway):
 * - 'fail': the signature itself does not verify (bad signature, digest
 *   mismatch, signer certificate missing from the message);
 * - 'policy': the signature verifies over the content, but local policy does
 *   not accept it (untrusted or broken path, validity dates, key usage,
 *   weak digest or key, From address not in the certificate);
 * - 'permerror': the S/MIME structure cannot be read (malformed, unsupported
 *   algorithm, resource bounds exceeded): retrying will not help;
 * - 'none': the message carries no signature.
 */
export type SmimeResult = 'pass' | 'fail' | 'policy' | 'neutral' | 'none' | 'temperror' | 'permerror';

/** Why a verdict is what it is: the path validator's reasons plus those of the signature itself. */
export type VerdictReason =
  | PathFailureReason
  | 'valid'
  | 'bad-signature'
  | 'digest-mismatch'
  | 'signer-not-found'
  | 'key-usage'
  | 'no-email-protection'
  | 'from-mismatch'
  | 'unsigned'
  | 'no-content'
  | 'too-large'
  | 'unsupported-algorithm'
  | 'encrypted-for-others'
  | 'decryption-failed'
  | 'unsupported-layer'
  | 'temporary-failure'
  /** A certificate of the signer's path is revoked (OCSP or CRL). */
  | 'revoked'
  /** Under revocation.mode hard: no OCSP or CRL answer could be had. */
  | 'revocation-unavailable';

export interface SignerSummary {
  /** RFC 4514 order, e.g. "CN=Poststelle,O=Stadt,C=DE". */
  readonly subject: string;
  readonly issuer: string;
  /** Upper-case hex as OpenSSL prints it. */
  readonly serialHex: string;
  /** rfc822Name subjectAltNames, lower-cased. */
  readonly emails: readonly string[];
  /** SHA-256 over the certificate DER, lower-case hex. */
  readonly fingerprint: string;
}

export interface Verdict {
  readonly result: SmimeResult;
  readonly reason: VerdictReason;
  readonly signer?: SignerSummary;
  /** The signingTime attribute, when present and readable (claimed by the signer, not proven). */
  readonly signingTime?: Date;
  /** One English sentence for logs and the Authentication-Results comment. */
  readonly detail: string;
}

/** The result each reason maps to; one table so the mapping stays consistent. */
export const RESULT_OF: Readonly<Record<VerdictReason, SmimeResult>> = {
  valid: 'pass',
  'bad-signature': 'fail',
  'digest-mismatch': 'fail',
  'signer-not-found': 'fail',
  'untrusted-root': 'policy',
  'no-path': 'policy',
  'path-too-long': 'policy',
  'bad-chain-signature': 'policy',
  'not-a-ca': 'policy',
  'path-length-exceeded': 'policy',
  expired: 'policy',
  'not-yet-valid': 'policy',
  'expired-at-signing': 'policy',
  'key-usage': 'policy',
  'no-email-protection': 'policy',
  'weak-digest': 'policy',
  'weak-key': 'policy',
  'from-mismatch': 'policy',
  unsigned: 'none',
  'no-content': 'permerror',
  malformed: 'permerror',
  'too-large': 'permerror',
  'unsupported-algorithm': 'permerror',
  // Encrypted to a key not held here: the recipient's own client decrypts and judges it.
  'encrypted-for-others': 'neutral',
  'decryption-failed': 'permerror',
  // compressed-data and other CMS types S/MIME allows but mail clients hardly send.
  'unsupported-layer': 'neutral',
  // A local problem (database, key store): the message itself may be fine.
  'temporary-failure': 'temperror',
  // The key no longer vouches for anything: as bad as a signature that does not verify.
  revoked: 'fail',
  // Hard-fail revocation checking; a later check may succeed.
  'revocation-unavailable': 'temperror',
};

export function verdictOf(reason: VerdictReason, detail: string, extra: Pick<Verdict, 'signer' | 'signingTime'> = {}): Verdict {
  return { result: RESULT_OF[reason], reason, detail, ...extra };
}
