/**
 * Revocation for recipient certificates (issue 5): a certificate that is
 * revoked is never encrypted to, whatever source found it; one whose
 * status cannot be had is not used under hard-fail and used under
 * soft-fail. Wraps any EncryptionCertificateLookup, so harvested and
 * directory certificates are treated alike. Only the recipient's own
 * certificate is checked; its issuer comes from issuers.ts.
 */
import type { EncryptionCertificateLookup } from '../../pipeline/encryption-lookup.js';
import type { TrustAnchor } from '../trust-store.js';
import { findIssuer, type StoredIssuers } from './issuers.js';
import type { RevocationChecker, RevocationStatus } from './types.js';

export interface RecipientRevocationOptions {
  readonly checker: RevocationChecker;
  readonly mode: 'soft' | 'hard';
  readonly anchors: () => readonly TrustAnchor[];
  /** For fetching an issuer certificate from caIssuers, milliseconds. */
  readonly timeout: number;
  /** Issuing CAs kept from imports and harvesting (keystore/issuer-store.ts), so a restart does not lose them. */
  readonly issuers?: StoredIssuers;
  /** Told when the issuer store cannot be read (the look-up goes on without it). */
  readonly onStoreError?: (err: unknown) => void;
  /** Told why a certificate found for an address is not used (or used despite an unknown status), for the log. */
  readonly onNote?: (address: string, note: string) => void;
}

export function revocationCheckedLookup(lookup: EncryptionCertificateLookup, options: RecipientRevocationOptions): EncryptionCertificateLookup {
  return async (address, at, notes) => {
    const found = await lookup(address, at, notes);
    if (!found) return undefined;
    const note = (text: string): void => {
      notes?.push(`${address}: ${text}`);
      options.onNote?.(address, text);
    };
    const issuer = await findIssuer(found.certificate, options.anchors(), {
      timeout: options.timeout,
      ...(options.issuers ? { stored: options.issuers } : {}),
      ...(options.onStoreError ? { onStoreError: options.onStoreError } : {}),
    });
    const status: RevocationStatus = issuer
      ? await options.checker.check(found.certificate, issuer, at).catch((err: unknown) => ({ status: 'unavailable', source: 'none', why: String(err) }) as const)
      : { status: 'unavailable', source: 'none', why: 'the issuer certificate was not found (trust anchors, known intermediates, stored issuers, caIssuers)' };
    switch (status.status) {
      case 'good':
        return found;
      case 'revoked':
        note(`certificate ${found.fingerprint.slice(0, 16)} not used: ${status.detail}`);
        return undefined;
      case 'unknown':
      case 'unavailable': {
        const why = status.status === 'unknown' ? status.detail : status.why;
        if (options.mode === 'hard') {
          note(`certificate ${found.fingerprint.slice(0, 16)} not used: revocation status could not be checked: ${why}`);
          return undefined;
        }
        note(`certificate ${found.fingerprint.slice(0, 16)} used, revocation status could not be checked: ${why}`);
        return found;
      }
    }
  };
}
