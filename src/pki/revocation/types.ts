/**
 * Revocation status of one certificate (RFC 5280 CRLs, RFC 6960 OCSP), as
 * the checker reports it. A structured result, never a boolean (DESIGN
 * rule 4): callers decide what 'unknown' and 'unavailable' mean under the
 * configured mode (soft or hard fail).
 */

/** Where a status came from; 'none' when the certificate names no OCSP responder and no CRL. */
export type RevocationSource = 'ocsp' | 'crl' | 'none';

/** CRLReason (RFC 5280 section 5.3.1) by code; 7 is not used. */
export const REVOCATION_REASONS: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

export type RevocationStatus =
  | { readonly status: 'good'; readonly source: RevocationSource; /** e.g. "no revocation information", or the responder used */ readonly detail: string }
  | {
      readonly status: 'revoked';
      readonly source: 'ocsp' | 'crl';
      readonly revokedAt: Date;
      /** CRLReason code when the responder or CRL gave one. */
      readonly reasonCode?: number;
      readonly detail: string;
    }
  /** The responder does not know the certificate (OCSP 'unknown'). */
  | { readonly status: 'unknown'; readonly source: 'ocsp'; readonly detail: string }
  /** No trustworthy answer could be had: network, size, signature, freshness or nonce problems. */
  | { readonly status: 'unavailable'; readonly source: RevocationSource; readonly why: string };

export interface RevocationChecker {
  /** Never throws: every problem is an 'unavailable' status. */
  check(certificate: Buffer, issuer: Buffer, at: Date): Promise<RevocationStatus>;
}

/** What the callers need of `revocation.*` in the configuration (src/config/schema.ts). */
export interface RevocationSettings {
  readonly mode: 'soft' | 'hard';
  /** Milliseconds for one OCSP request or CRL download. */
  readonly timeout: number;
  /** Milliseconds; OCSP responses without nextUpdate older than this are stale. */
  readonly ocspMaxAge: number;
  /** Bytes. */
  readonly maxCrlSize: number;
}

/** The name of a CRLReason code for details and logs. */
export function reasonName(code: number | undefined): string {
  if (code === undefined) return 'no reason given';
  return REVOCATION_REASONS[code] ?? `reason ${code}`;
}
