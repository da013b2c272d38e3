/**
 * The large-file exchange (issue 4) as the rest of Siegel sees it: the
 * outbound offloading stage, the CLI (`siegel files ...`) and the web edge
 * all go through TransferService; none of them touches storage or keys.
 *
 * Security model: a share's link carries a 256-bit secret (the token).
 * The database keeps only SHA-256(token); the file's AES-256-GCM key is
 * derived from the token (HKDF), so a stolen disk plus database reveals
 * neither the files nor working links. Whoever holds the link can
 * download (plus the password when one is set).
 */
import type { Readable } from 'node:stream';

export type ShareOrigin = 'cli' | 'web' | 'offload' | 'upload-request';

export interface ShareOptions {
  /** Lower-case address of the staff member who owns the share (quota, revocation, notifications). */
  readonly owner: string;
  /** The file name as given; sanitised before it is stored or shown. */
  readonly fileName: string;
  /** Media type to serve the download with (default application/octet-stream). */
  readonly contentType?: string;
  /** Lifetime in ms; default largeFiles.defaultExpiry, capped at largeFiles.maxExpiry. */
  readonly expiresIn?: number;
  /** Optional download password (stored as an scrypt hash). */
  readonly password?: string;
  /** Optional download limit. */
  readonly maxDownloads?: number;
  /** Mail the owner on the first download (default largeFiles.notifyOnFirstDownload). */
  readonly notifyOnFirstDownload?: boolean;
  readonly origin: ShareOrigin;
  /** For the audit log. */
  readonly clientIp?: string;
  /** Size announced in advance (upload), checked against limits before any byte is stored. */
  readonly expectedSize?: number;
}

export interface CreatedShare {
  readonly id: string;
  /** The link secret: shown once, never stored. */
  readonly token: string;
  /** `${web.publicUrl}/d/${token}` */
  readonly url: string;
  readonly fileName: string;
  readonly size: number;
  /** SHA-256 of the plaintext, lower-case hex. */
  readonly sha256: string;
  readonly expiresAt: Date;
}

export type ShareState = 'active' | 'expired' | 'revoked' | 'exhausted';

export interface ShareInfo {
  readonly id: string;
  readonly owner: string;
  readonly fileName: string;
  readonly contentType: string;
  readonly size: number;
  readonly sha256: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly downloads: number;
  readonly maxDownloads?: number;
  readonly passwordRequired: boolean;
  readonly origin: ShareOrigin;
  readonly state: ShareState;
}

/** What a token leads to. Unknown and gone are told apart only by status code (404/410), never by detail. */
export type ShareLookup =
  | { readonly status: 'ok'; readonly info: ShareInfo }
  | { readonly status: 'gone' }
  | { readonly status: 'unknown' };

export type PasswordCheck = 'ok' | 'wrong' | 'locked' | 'not-required';

export interface ByteRange {
  /** Inclusive first byte. */
  readonly start: number;
  /** Inclusive last byte. */
  readonly end: number;
}

export interface DownloadRequest {
  /** Requested range of the plaintext; the whole file when absent. */
  readonly range?: ByteRange;
  readonly clientIp?: string;
  /**
   * The password, when the share has one. The web edge passes it from a
   * short-lived session after a successful checkPassword; the CLI from a file.
   */
  readonly password?: string;
}

export type DownloadResult =
  | { readonly status: 'ok'; readonly info: ShareInfo; readonly range: ByteRange; readonly stream: Readable }
  | { readonly status: 'gone' }
  | { readonly status: 'unknown' }
  | { readonly status: 'password-required' }
  | { readonly status: 'locked' }
  | { readonly status: 'range-not-satisfiable'; readonly size: number };

export type AuditEvent = 'share' | 'upload' | 'download' | 'revoke' | 'expire' | 'password-failed' | 'locked' | 'request-created' | 'sign-in';

export interface AuditEntry {
  readonly at: Date;
  readonly event: AuditEvent;
  readonly shareId?: string;
  /** Staff address, or the partner's address when known. */
  readonly actor?: string;
  readonly fileName?: string;
  readonly size?: number;
  readonly clientIp?: string;
  readonly detail?: string;
}

/**
 * A sealed blob already encrypted for a share that does not exist yet: a
 * finished resumable upload, written under deriveFileKey(token, id) with
 * `id` and `token` chosen (newShareId, newToken) when the upload began, so
 * it becomes a share without a second pass over the file.
 */
export interface PreparedBlob {
  /** The blob's current id (the upload's staging blob). */
  readonly blobId: string;
  /** The share id to be, as newShareId() makes them. */
  readonly id: string;
  /** The link secret to be (newToken()); the blob's key derives from it and `id`. */
  readonly token: string;
  /** Plaintext size and SHA-256, as the blob store reported when sealing. */
  readonly size: number;
  readonly sha256: string;
}

export interface TransferService {
  /** Stores the stream encrypted and returns the link; throws SiegelError (quota, size, disk space) before or while storing, leaving nothing behind. */
  share(content: Readable | AsyncIterable<Buffer>, options: ShareOptions): Promise<CreatedShare>;
  /**
   * Makes a prepared blob a share under the same checks as share() (limits,
   * quota, virus scan), without copying it. On any failure the blob is
   * removed, as share() leaves nothing behind. Optional: callers fall back
   * to share() over the blob's plaintext.
   */
  adopt?(blob: PreparedBlob, options: ShareOptions): Promise<CreatedShare>;
  lookup(token: string): Promise<ShareLookup>;
  /** Rate-limited per share and client; a locked share stays locked for largeFiles.lockout. */
  checkPassword(token: string, password: string, clientIp?: string): Promise<PasswordCheck>;
  /** Counts a download (and notifies the owner on the first) when the stream starts at byte 0. */
  download(token: string, request: DownloadRequest): Promise<DownloadResult>;
  /** By id; only the owner (or an admin: owner undefined) may revoke. True when revoked now. */
  revoke(id: string, owner?: string): Promise<boolean>;
  list(filter?: { readonly owner?: string; readonly includeInactive?: boolean }): Promise<ShareInfo[]>;
  audit(filter?: { readonly shareId?: string; readonly since?: Date; readonly limit?: number }): Promise<AuditEntry[]>;
  /** Appends an audit entry for events outside a share's own life (staff sign-in, upload requests); never throws. */
  recordAudit?(entry: AuditEntry): Promise<void>;
  /** Deletes the blobs of expired, revoked and exhausted shares; returns how many were deleted. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

/** Mail the exchange sends (download notification, sign-in link, upload-request results), through the outbound relay. */
export interface Notifier {
  send(message: { readonly to: string; readonly subject: string; readonly text: string }): Promise<void>;
}
