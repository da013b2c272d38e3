/**
 * What the staff area of the large-file exchange keeps between requests:
 * one-time sign-in links, sessions, resumable uploads in progress and
 * upload requests for outside partners. Every secret (link token, session
 * id, upload token, request token) is stored only as its SHA-256, so the
 * database alone opens nothing. The default implementation lives in
 * siegel.db (sqlite-staff-store.ts); the interface lets a shared database
 * follow for several gateway nodes.
 */
import { createHash } from 'node:crypto';

/** SHA-256 of a secret as stored (hex). Secrets are 256-bit random values, so a plain hash is enough. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export interface SessionRecord {
  readonly address: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface UploadRecord {
  /** Id of the unfinished blob (its key derives from the upload token and this id). */
  readonly blobId: string;
  /** Staff address that will own the share. */
  readonly owner: string;
  /** Set when a partner uploads through an upload request. */
  readonly requestId?: string;
  /** Announced total size (Upload-Length). */
  readonly size: number;
  readonly createdAt: Date;
  /** An unfinished upload is dropped after this. */
  readonly expiresAt: Date;
  /** Share options, sealed with a key derived from the upload token (sealed-json.ts). */
  readonly sealedOptions: Buffer;
  /** The created share (its link), sealed likewise; set once the upload became a share. */
  readonly sealedResult?: Buffer;
}

export interface UploadRequestRecord {
  readonly id: string;
  readonly owner: string;
  readonly partner?: string;
  readonly note?: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly closedAt?: Date;
  /** Files that became shares through this request. */
  readonly files: number;
}

export interface StaffStore {
  saveSignInLink(tokenHash: string, address: string, expiresAt: Date): void;
  /** Marks the link used and returns its address when it exists, is unused and not expired; single use. */
  consumeSignInLink(tokenHash: string, now: Date): string | undefined;

  saveSession(idHash: string, session: SessionRecord): void;
  session(idHash: string, now: Date): SessionRecord | undefined;
  deleteSession(idHash: string): void;

  saveUpload(tokenHash: string, upload: UploadRecord): void;
  upload(tokenHash: string): UploadRecord | undefined;
  setUploadResult(tokenHash: string, sealedResult: Buffer): void;
  deleteUpload(tokenHash: string): void;
  /** Announced bytes of an owner's unfinished uploads (for the quota). */
  pendingBytes(owner: string): number;

  saveRequest(tokenHash: string, request: Omit<UploadRequestRecord, 'files' | 'closedAt'>): void;
  requestByToken(tokenHash: string): UploadRequestRecord | undefined;
  requests(owner: string): UploadRequestRecord[];
  closeRequest(id: string, owner: string, now: Date): boolean;
  countRequestFile(id: string): void;

  /** Deletes expired links, sessions and unfinished uploads; returns the blob ids of the dropped uploads. */
  sweep(now: Date): string[];
  close(): void;
}
