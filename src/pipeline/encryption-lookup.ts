/**
 * Where the outbound pipeline gets a recipient's encryption certificate
 * from. A function, injected (DESIGN rule 5), so tests use a generated PKI
 * and later sources (LDAP directories, policy) plug in beside the
 * certificates harvested from verified inbound mail.
 */
import { lookupEncryptionCertificate, type EncryptionCertificate } from '../keystore/harvest.js';
import type { HarvestedStore } from '../keystore/harvested-store.js';

/** The certificate to encrypt to `address` at `at`, or undefined when none is known and valid. */
export type EncryptionCertificateLookup = (address: string, at: Date) => Promise<EncryptionCertificate | undefined>;

/** Certificates harvested from verified inbound mail. */
export function harvestedCertificates(store: HarvestedStore): EncryptionCertificateLookup {
  return (address, at) => lookupEncryptionCertificate(store, address, at);
}
