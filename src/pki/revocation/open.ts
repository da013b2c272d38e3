/**
 * Wiring for the commands: one checker per process (so its OCSP and CRL
 * caches serve every message), and the recipient wrapper with the
 * configured mode and a log line for each refused certificate.
 */
import type { Config } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import type { EncryptionCertificateLookup } from '../../pipeline/encryption-lookup.js';
import type { TrustAnchor } from '../trust-store.js';
import { DefaultRevocationChecker } from './checker.js';
import type { StoredIssuers } from './issuers.js';
import { revocationCheckedLookup } from './recipient.js';
import type { RevocationChecker } from './types.js';

interface WarnLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export function createRevocationChecker(config: Config): RevocationChecker {
  return new DefaultRevocationChecker(config.revocation);
}

/**
 * `lookup`, refusing revoked recipient certificates (and, under hard-fail,
 * unchecked ones). `issuers` is the issuer store of siegel.db: the issuing
 * CAs of imported and harvested certificates, which no restart may forget.
 */
export function withRecipientRevocation(
  lookup: EncryptionCertificateLookup,
  config: Config,
  checker: RevocationChecker,
  anchors: () => readonly TrustAnchor[],
  logger: WarnLogger,
  issuers?: StoredIssuers,
): EncryptionCertificateLookup {
  return revocationCheckedLookup(lookup, {
    checker,
    mode: config.revocation.mode,
    anchors,
    timeout: config.revocation.timeout,
    ...(issuers ? { issuers } : {}),
    onNote: (address, note) => logger.warn({ address, revocation: note }, 'recipient certificate revocation'),
    onStoreError: (err) => logger.warn({ error: errorMessage(err) }, 'issuer certificate store cannot be read; going on without it'),
  });
}
