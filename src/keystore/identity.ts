import type { KeyObject } from 'node:crypto';
import type { DecryptionKey } from '../smime/envelope-decrypt.js';

/** What the signing stage needs of a mailbox's identity. */
export interface SigningIdentity {
  /** Lower-case mailbox address. */
  readonly mailbox: string;
  /** Signer certificate, DER. */
  readonly certificate: Buffer;
  /** Issuing CA certificates up to, not including, the root (DER, leaf-most first). */
  readonly chain: readonly Buffer[];
  /** Decrypted private key (kept in memory only). */
  readonly privateKey: KeyObject;
  /**
   * The mailbox's encryption certificate (DER) when it differs from the
   * signer certificate, or the signer certificate itself when its keyUsage
   * allows key transport/agreement; undefined for sign-only mailboxes.
   */
  readonly encryptionCertificate: Buffer | undefined;
}

/** Looks up the signing identity valid for a mailbox at a given time. */
export interface SigningIdentityResolver {
  signingIdentity(mailbox: string, at: Date): Promise<SigningIdentity | undefined>;
}

/** The keys inbound decryption may try: every enrolled certificate with its key, old ones included. */
export interface DecryptionKeyResolver {
  decryptionKeys(): Promise<DecryptionKey[]>;
}
