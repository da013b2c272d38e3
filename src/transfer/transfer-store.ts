/**
 * Metadata of the large-file exchange: shares, their download and password
 * counters, and the audit log. An interface (DESIGN rule 6) with node:sqlite
 * as the embedded default (SqliteTransferStore); a PostgreSQL store for
 * several gateway nodes must pass test/transfer/transfer-store.conformance.ts.
 *
 * Everything that races between processes (the CLI and `siegel serve`) or
 * between requests is one atomic call: the quota check with the insert,
 * counting a download with the download limit, counting a password attempt
 * with the lockout. The store never sees a token, only SHA-256(token).
 */
import type { AuditEntry, ShareOrigin } from './types.js';

export interface ShareRecord {
  readonly id: string;
  /** SHA-256 of the link token (32 bytes). */
  readonly tokenHash: Buffer;
  readonly owner: string;
  readonly fileName: string;
  readonly contentType: string;
  readonly size: number;
  readonly sha256: string;
  readonly origin: ShareOrigin;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly downloads: number;
  readonly maxDownloads: number | null;
  /** `$scrypt$...` (src/smtp/credentials.ts format), or null without password. */
  readonly passwordHash: string | null;
  readonly notifyOnFirstDownload: boolean;
  /** Wrong passwords since the last success or lockout. */
  readonly failedAttempts: number;
  readonly lockedUntil: Date | null;
  readonly revokedAt: Date | null;
  /** When the sweep deleted the blob; the row stays for the audit trail and `files list --all`. */
  readonly blobDeletedAt: Date | null;
}

export interface PasswordPolicy {
  /** Wrong passwords before the share locks. */
  readonly maxAttempts: number;
  readonly lockoutMs: number;
}

/**
 * The outcome of reserving one password attempt. The attempt is counted as
 * failed before the password is checked (and cleared on success), so
 * parallel guesses cannot exceed maxAttempts per lockout.
 */
export type PasswordAttempt =
  | { readonly status: 'locked'; readonly until: Date }
  /** locksNow: this attempt was the last allowed one; if it is wrong, the share is locked until lockedUntil. */
  | { readonly status: 'allowed'; readonly locksNow: boolean; readonly lockedUntil: Date | null };

export interface AuditFilter {
  readonly shareId?: string;
  /** Entries at or after this instant. */
  readonly since?: Date;
  /** The most recent `limit` entries (still returned oldest first). */
  readonly limit?: number;
}

export interface TransferStore {
  /**
   * Inserts a share when the owner's active bytes plus its size stay within
   * `quota.limit` at `quota.now`, atomically; false (nothing stored) when
   * they would not. Throws for a duplicate id or token hash.
   */
  insertShare(record: ShareRecord, quota: { readonly limit: number; readonly now: Date }): Promise<boolean>;
  get(id: string): Promise<ShareRecord | undefined>;
  findByTokenHash(tokenHash: Buffer): Promise<ShareRecord | undefined>;
  /** Newest first; all states (the caller filters with shareState). */
  list(filter?: { readonly owner?: string }): Promise<ShareRecord[]>;
  /** Total size of the owner's active shares at `now` (see shareState). */
  activeBytes(owner: string, now: Date): Promise<number>;
  /**
   * Counts one download if the share is active at `now` (not revoked, not
   * expired, below its limit): returns the new count, or undefined when it
   * was not active (nothing changed).
   */
  countDownload(id: string, now: Date): Promise<number | undefined>;
  /** See PasswordAttempt. An expired lock starts a fresh count. undefined for an unknown id. */
  reservePasswordAttempt(id: string, now: Date, policy: PasswordPolicy): Promise<PasswordAttempt | undefined>;
  /** After a correct password: no failures, no lock. */
  clearPasswordFailures(id: string): Promise<void>;
  /** Marks the share revoked at `at` unless it already is; with `owner`, only that owner's share. True when revoked now. */
  revoke(id: string, at: Date, owner?: string): Promise<boolean>;
  /** Shares whose blob still exists although they are no longer active at `now`, oldest expiry first. */
  sweepCandidates(now: Date, limit: number): Promise<ShareRecord[]>;
  /** True when marked now; false when it already was (another process swept it first) or the id is unknown. */
  markBlobDeleted(id: string, at: Date): Promise<boolean>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Oldest first. */
  audit(filter?: AuditFilter): Promise<AuditEntry[]>;
  close(): Promise<void>;
}
