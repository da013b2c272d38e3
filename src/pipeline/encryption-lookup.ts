/**
 * Where the outbound pipeline gets a recipient's encryption certificate
 * from. A function, injected (DESIGN rule 5), so tests use a generated PKI
 * and later sources (LDAP directories, policy) plug in beside the
 * certificates harvested from verified inbound mail.
 */
import { lookupEncryptionCertificate, type EncryptionCertificate } from '../keystore/harvest.js';
import type { HarvestedStore } from '../keystore/harvested-store.js';

/**
 * The certificate to encrypt to `address` at `at`, or undefined when none is known and valid.
 * `notes`, when given, collects why a certificate that was found is not used (revocation), for the log.
 */
export type EncryptionCertificateLookup = (address: string, at: Date, notes?: string[]) => Promise<EncryptionCertificate | undefined>;

/** Certificates harvested from verified inbound mail. */
export function harvestedCertificates(store: HarvestedStore): EncryptionCertificateLookup {
  return (address, at) => lookupEncryptionCertificate(store, address, at);
}

/**
 * Sources asked in order, the first certificate found wins: harvested
 * before the directory, so the certificate a partner's own signed mail
 * named is never overridden by a directory entry.
 */
export function firstFound(...sources: ReadonlyArray<EncryptionCertificateLookup | undefined>): EncryptionCertificateLookup {
  const present = sources.filter((s): s is EncryptionCertificateLookup => s !== undefined);
  return async (address, at, notes) => {
    for (const source of present) {
      const found = await source(address, at, notes);
      if (found) return found;
    }
    return undefined;
  };
}
