/**
 * Storage of the large-file exchange's file contents, encrypted at rest.
 *
 * A blob is the plaintext of one shared file, stored under an id chosen by
 * the caller and encrypted with a per-file key the store never keeps (the
 * caller derives it from the link secret with deriveFileKey). The interface
 * is streaming throughout so memory stays flat for a 1 GB file (DESIGN rule
 * 7), and small enough that object storage can implement it later; the
 * default is LocalBlobStore (a directory).
 *
 * Errors: SiegelError('FILE_TOO_LARGE') when maxBytes is exceeded,
 * SiegelError('STORAGE_FAILED') when free space would fall below the
 * configured minimum or the disk fails, SiegelError('DECRYPTION_FAILED')
 * when a key is wrong or a stored byte was changed, SiegelError('NOT_FOUND')
 * for an unknown id, SiegelError('INTERNAL') for an invalid id or range.
 */
import type { Readable } from 'node:stream';
import type { ByteRange } from './types.js';

export { deriveFileKey } from './file-crypto.js';

/** Content to store: a Node stream or any async iterable of chunks. */
export type BlobContent = AsyncIterable<Buffer> | Readable;

export interface BlobLimits {
  /** Largest allowed plaintext size of the whole blob (counting bytes already stored by earlier appends). */
  readonly maxBytes: number;
}

export interface BlobWriteResult {
  /** Plaintext size in bytes. */
  readonly size: number;
  /** SHA-256 of the whole plaintext, lower-case hex. */
  readonly sha256: string;
}

/**
 * An unfinished blob being written in pieces (resumable uploads). Calls must
 * not overlap. After a crash or a dropped connection, openAppender again
 * with the same id and key: offset tells where to continue.
 */
export interface BlobAppender {
  /** Plaintext bytes durably stored so far (a resumed upload continues here). */
  readonly offset: number;
  /**
   * Encrypts and appends the content; resolves with the new offset once the
   * bytes are on disk (fsync at the end of each call). If the content stream
   * fails midway, the bytes received before the failure are kept (and
   * synced) where possible, the call rejects, and offset tells how many
   * survive. Exceeding limits.maxBytes (total size) rejects with
   * FILE_TOO_LARGE and keeps the blob as it was before the call.
   */
  append(data: BlobContent, limits: BlobLimits): Promise<number>;
  /** Seals the blob (final record) and makes it readable; returns size and SHA-256 of the whole plaintext. */
  finish(): Promise<BlobWriteResult>;
  /** Drops the unfinished blob (all its files). */
  abort(): Promise<void>;
}

export interface BlobStore {
  /** One-shot: stream in, sealed blob out. Nothing remains on failure (partial files removed). Fails if the id exists. */
  write(id: string, key: Buffer, content: BlobContent, limits: BlobLimits): Promise<BlobWriteResult>;
  /**
   * For resumable uploads: opens (or creates) an unfinished blob; a wrong key
   * fails with DECRYPTION_FAILED, a sealed blob with the same id fails too.
   */
  openAppender(id: string, key: Buffer): Promise<BlobAppender>;
  /**
   * Authenticated plaintext of a sealed blob, whole or [start, end] inclusive,
   * streamed (constant memory). Only the records covering the range are read.
   * Any failure (unknown id, wrong key, tampering, truncation, range beyond
   * the end) is an 'error' event on the stream: never wrong bytes.
   */
  read(id: string, key: Buffer, range?: ByteRange): Readable;
  /**
   * Gives a sealed blob a new id without copying it (a finished upload
   * becoming a share's blob); fails if `to` exists. Optional: without it,
   * callers copy through read and write.
   */
  rename?(from: string, to: string): Promise<void>;
  /** True when a sealed blob with this id exists (unfinished ones do not count). */
  exists(id: string): Promise<boolean>;
  /** Removes the blob, sealed or unfinished; no error when it does not exist. */
  remove(id: string): Promise<void>;
  /** Bytes free (for unprivileged users) on the file system holding the blobs. */
  freeSpace(): Promise<number>;
}
