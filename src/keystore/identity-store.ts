/**
 * Where the gateway's own identities live (DESIGN rule 6): one interface,
 * node:sqlite embedded, PostgreSQL later for several gateway nodes. Both
 * must pass test/keystore/identity-store.conformance.ts.
 *
 * A record is one key pair and, once issued, its certificate. It is shaped
 * for both enrollment paths:
 * - import (PKCS#12, --cert/--key): state 'active', id = certificate
 *   fingerprint, request null;
 * - request (`siegel enroll request`, later): key generated here, state
 *   'pending', id generated (`pending-...`), certificate null, request =
 *   the CSR; when the CA answers, the issued certificate is matched by
 *   publicKeySha256 and the record is replaced by an active one.
 */
export type IdentityRole = 'sign' | 'encrypt' | 'both';
export type IdentityState = 'pending' | 'active' | 'retired';

export const identityRoles: readonly IdentityRole[] = ['sign', 'encrypt', 'both'];
export const identityStates: readonly IdentityState[] = ['pending', 'active', 'retired'];

export interface IdentityRecord {
  /** SHA-256 of the certificate DER, lower-case hex; `pending-<uuid>` while there is no certificate. */
  readonly id: string;
  /** Lower-case mailbox address. */
  readonly mailbox: string;
  /** From the certificate's keyUsage; for pending records the role requested. */
  readonly role: IdentityRole;
  readonly state: IdentityState;
  /** DER; null only while pending. */
  readonly certificate: Buffer | null;
  /** Issuing CA certificates, leaf-ward first, no root (DER). */
  readonly chain: readonly Buffer[];
  /** The private key as sealed by key-encryption.ts; never plaintext. */
  readonly encryptedKey: Buffer;
  /** SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex: links an issued certificate to its pending key. */
  readonly publicKeySha256: string;
  /** The certification request (DER) of a pending identity; null for imports. */
  readonly request: Buffer | null;
  /** RFC 4514 subject; for pending records the subject requested, if any. */
  readonly subject: string | null;
  readonly issuer: string | null;
  /** Upper-case hex. */
  readonly serial: string | null;
  readonly notBefore: Date | null;
  readonly notAfter: Date | null;
  readonly createdAt: Date;
}

export interface IdentityStore {
  /** Inserts, or replaces the record with the same id (chain included). */
  put(record: IdentityRecord): Promise<void>;
  get(id: string): Promise<IdentityRecord | undefined>;
  /** All records, ordered by mailbox, then createdAt, then id. */
  list(): Promise<IdentityRecord[]>;
  /** Records of one mailbox (matched case-insensitively), same order as list(). */
  forMailbox(mailbox: string): Promise<IdentityRecord[]>;
  /** Records holding the key with this SubjectPublicKeyInfo hash. */
  forPublicKey(publicKeySha256: string): Promise<IdentityRecord[]>;
  /** True when a record was removed. */
  remove(id: string): Promise<boolean>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** Checks the invariants every store enforces on put; throws a plain Error naming the field. */
export function checkRecord(record: IdentityRecord): void {
  if (record.id.length === 0) throw new Error('identity record: id is empty');
  if (!record.mailbox.includes('@')) throw new Error(`identity record ${record.id}: mailbox ${JSON.stringify(record.mailbox)} is not an address`);
  if (!identityRoles.includes(record.role)) throw new Error(`identity record ${record.id}: unknown role ${String(record.role)}`);
  if (!identityStates.includes(record.state)) throw new Error(`identity record ${record.id}: unknown state ${String(record.state)}`);
  if (record.state !== 'pending' && record.certificate === null) {
    throw new Error(`identity record ${record.id}: state ${record.state} needs a certificate`);
  }
  if (record.encryptedKey.length === 0) throw new Error(`identity record ${record.id}: encryptedKey is empty`);
}
