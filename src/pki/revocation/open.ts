/**
 * Wiring for the commands: one checker per process (so its OCSP and CRL
 * caches serve every message), and the recipient wrapper with the
 * configured mode and a log line for each refused certificate.
 */
import type { Config } from '../../config/schema.js';
import type { EncryptionCertificateLookup } from '../../pipeline/encryption-lookup.js';
import type { TrustAnchor } from '../trust-store.js';
import { DefaultRevocationChecker } from './checker.js';
import { revocationCheckedLookup } from './recipient.js';
import type { RevocationChecker } from './types.js';

interface WarnLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export function createRevocationChecker(config: Config): RevocationChecker {
  return new DefaultRevocationChecker(config.revocation);
}

/** `lookup`, refusing revoked recipient certificates (and, under hard-fail, unchecked ones). */
export function withRecipientRevocation(
  lookup: EncryptionCertificateLookup,
  config: Config,
  checker: RevocationChecker,
  anchors: () => readonly TrustAnchor[],
  logger: WarnLogger,
): EncryptionCertificateLookup {
  return revocationCheckedLookup(lookup, {
    checker,
    mode: config.revocation.mode,
    anchors,
    timeout: config.revocation.timeout,
    onNote: (address, note) => logger.warn({ address, revocation: note }, 'recipient certificate revocation'),
  });
}
