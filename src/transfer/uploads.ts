/**
 * Resumable uploads of the staff area and of upload requests (the tus
 * endpoints are thin adapters over this).
 *
 * Each upload has a token: 256 random bits, the last segment of its tus
 * URL, known only to the uploader's browser. The database keeps its
 * SHA-256; the staging blob's key derives from it (deriveFileKey), and so
 * does the key that seals the share options (file name, password) in the
 * database. Nothing of an upload is readable without its URL, and nothing
 * is ever stored unencrypted.
 *
 * The file is encrypted once: when an upload begins, the share it will
 * become gets its id and link secret (newShareId, newToken), and the
 * staging blob is encrypted under that share's key, deriveFileKey(share
 * token, share id). Both are kept in the upload's sealed options, so only
 * the upload token opens them. On completion TransferService.adopt makes
 * the sealed staging blob the share's blob (a rename, no second pass) under
 * the same checks as any share. The upload URL (which the uploader,
 * possibly an outside partner, knows) and the share link (which the owner
 * passes on) stay separate secrets: the link is never sent to the
 * uploader's tus client, and a partner sees only the upload URL.
 *
 * Without adopt (a TransferService or BlobStore that cannot rename), and
 * for uploads begun before, the staging blob is keyed by the upload token
 * and re-encrypted into a share with TransferService.share (a second pass,
 * twice the file's size on disk for a moment), then removed.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { SiegelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BlobStore } from './blob-store.js';
import { deriveFileKey } from './file-crypto.js';
import { openJson, sealJson } from './sealed-json.js';
import { secretHash, type StaffStore, type UploadRecord } from './staff-records.js';
import { newShareId, newToken } from './tokens.js';
import type { CreatedShare, ShareOptions, ShareOrigin, TransferService } from './types.js';

/** An unfinished upload is dropped a day after it was started; a finished one's sealed result (the link) then too. */
export const UPLOAD_LIFETIME = 24 * 3_600_000;

const OPTIONS_PURPOSE = 'upload-options';
const RESULT_PURPOSE = 'upload-result';

export interface UploadShareOptions {
  readonly fileName: string;
  readonly contentType?: string;
  readonly expiresIn?: number;
  readonly password?: string;
  readonly maxDownloads?: number;
}

/** What the upload's sealed options hold: the share options, and the id and link secret of the share to be (absent for uploads re-encrypted at the end). */
interface SealedUploadOptions extends UploadShareOptions {
  readonly shareId?: string;
  readonly shareToken?: string;
}

export interface NewUpload {
  /** The upload's secret (newSecret()): the last segment of its tus URL. */
  readonly token: string;
  readonly owner: string;
  /** Announced total size in bytes (tus Upload-Length). */
  readonly size: number;
  readonly requestId?: string;
  readonly options: UploadShareOptions;
  readonly clientIp?: string;
}

export interface UploadState {
  readonly owner: string;
  readonly requestId?: string;
  readonly size: number;
  readonly offset: number;
  readonly createdAt: Date;
  readonly finished: boolean;
}

export interface UploadResult {
  readonly shareId: string;
  readonly url: string;
  readonly fileName: string;
  readonly size: number;
  readonly sha256: string;
  readonly expiresAt: Date;
}

export interface UploadsOptions {
  readonly config: Config;
  readonly store: StaffStore;
  readonly blobs: BlobStore;
  readonly transfer: TransferService;
  readonly logger: Logger;
  readonly now: () => Date;
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export class Uploads {
  constructor(private readonly o: UploadsOptions) {}

  /**
   * Checks the limits against the announced size (file size, the owner's
   * quota counting unfinished uploads, disk space for the staging blob and
   * the share made from it) and creates the staging blob.
   */
  async create(input: NewUpload): Promise<void> {
    const { config, store, blobs, transfer, now } = this.o;
    const limits = config.largeFiles;
    if (!Number.isSafeInteger(input.size) || input.size < 0) throw new SiegelError('MESSAGE_MALFORMED', 'invalid upload length');
    if (input.size > limits.maxFileSize) throw new SiegelError('FILE_TOO_LARGE', `upload of ${input.size} bytes above largeFiles.maxFileSize`);
    const shared = (await transfer.list({ owner: input.owner })).filter((s) => s.state === 'active').reduce((sum, s) => sum + s.size, 0);
    if (shared + store.pendingBytes(input.owner) + input.size > limits.ownerQuota) {
      throw new SiegelError('QUOTA_EXCEEDED', `upload of ${input.size} bytes would exceed the quota of ${input.owner} (${limits.ownerQuota} bytes)`);
    }
    const adopting = transfer.adopt !== undefined && blobs.rename !== undefined;
    // Re-encrypting needs room for the staging blob and the share made from it.
    const free = await blobs.freeSpace();
    if (free - (adopting ? 1 : 2) * input.size < limits.minFreeSpace) throw new SiegelError('STORAGE_FAILED', `not enough free space for an upload of ${input.size} bytes`);

    const token = input.token;
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw new SiegelError('INTERNAL', 'upload token must be 32 random bytes in base64url');
    const blobId = `upload-${randomBytes(16).toString('hex')}`;
    const sealed: SealedUploadOptions = adopting ? { ...input.options, shareId: newShareId(), shareToken: newToken() } : input.options;
    // Creates the staging blob's header now, so a HEAD right after creation finds offset 0.
    await blobs.openAppender(blobId, stagingKey(token, blobId, sealed));
    const createdAt = now();
    const record: UploadRecord = {
      blobId,
      owner: input.owner,
      ...(input.requestId !== undefined ? { requestId: input.requestId } : {}),
      size: input.size,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + UPLOAD_LIFETIME),
      sealedOptions: sealJson(token, OPTIONS_PURPOSE, sealed),
    };
    try {
      store.saveUpload(secretHash(token), record);
    } catch (err) {
      await blobs.remove(blobId);
      throw err;
    }
    this.o.logger.info({ blob: blobId, owner: input.owner, size: input.size, request: input.requestId }, 'upload started');
  }

  /** Who an upload belongs to, without touching its blob; undefined for an unknown token. */
  describe(token: string): { readonly owner: string; readonly requestId?: string; readonly finished: boolean } | undefined {
    const record = this.o.store.upload(secretHash(token));
    if (!record) return undefined;
    return { owner: record.owner, ...(record.requestId !== undefined ? { requestId: record.requestId } : {}), finished: record.sealedResult !== undefined };
  }

  /** The upload's progress; undefined for an unknown (or swept) token. */
  async state(token: string): Promise<UploadState | undefined> {
    const record = this.o.store.upload(secretHash(token));
    if (!record) return undefined;
    const finished = record.sealedResult !== undefined;
    const offset = finished ? record.size : (await this.o.blobs.openAppender(record.blobId, stagingKey(token, record.blobId, this.options(token, record)))).offset;
    return {
      owner: record.owner,
      ...(record.requestId !== undefined ? { requestId: record.requestId } : {}),
      size: record.size,
      offset,
      createdAt: record.createdAt,
      finished,
    };
  }

  /** Appends the data at `offset` (which must be where the upload stands); returns the new offset. */
  async append(token: string, offset: number, data: AsyncIterable<Buffer>): Promise<number> {
    const record = this.record(token);
    if (record.sealedResult !== undefined) throw new SiegelError('MESSAGE_MALFORMED', 'upload already finished');
    const appender = await this.o.blobs.openAppender(record.blobId, stagingKey(token, record.blobId, this.options(token, record)));
    if (appender.offset !== offset) throw new SiegelError('MESSAGE_MALFORMED', `upload offset ${offset} does not match ${appender.offset}`);
    return appender.append(data, { maxBytes: record.size });
  }

  /**
   * Withdraws the share an upload became, when what had to follow it (the
   * owner's mail) failed: nobody else holds its link. The upload is dropped
   * too, so the uploader's client finds it gone (404) and starts over
   * instead of taking the stored result for a success.
   */
  async withdraw(token: string, result: UploadResult): Promise<void> {
    await this.o.transfer.revoke(result.shareId).catch(() => false);
    this.o.store.deleteUpload(secretHash(token));
  }

  /** Seals the staging blob and makes it a share (adopted, or re-encrypted and removed). Idempotent. */
  async finish(token: string, origin: ShareOrigin, clientIp?: string): Promise<UploadResult> {
    const { store, blobs, transfer } = this.o;
    const hash = secretHash(token);
    const record = this.record(token);
    const done = this.result(token);
    if (done) return done;
    const options = this.options(token, record);
    const key = stagingKey(token, record.blobId, options);
    const appender = await blobs.openAppender(record.blobId, key);
    if (appender.offset !== record.size) throw new SiegelError('MESSAGE_MALFORMED', 'upload not complete');
    const sealed = await appender.finish();
    const shareOptions: ShareOptions = {
      owner: record.owner,
      fileName: options.fileName,
      origin,
      expectedSize: record.size,
      ...(options.contentType !== undefined ? { contentType: options.contentType } : {}),
      ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.maxDownloads !== undefined ? { maxDownloads: options.maxDownloads } : {}),
      ...(clientIp !== undefined ? { clientIp } : {}),
    };
    let share: CreatedShare;
    try {
      if (options.shareId !== undefined && options.shareToken !== undefined && transfer.adopt !== undefined) {
        share = await transfer.adopt({ blobId: record.blobId, id: options.shareId, token: options.shareToken, ...sealed }, shareOptions);
      } else {
        share = await transfer.share(blobs.read(record.blobId, key), shareOptions);
      }
    } catch (err) {
      // Refused (quota, disk space, virus scan) or failed: the upload is over, nothing of it stays.
      store.deleteUpload(hash);
      throw err;
    } finally {
      // Gone already when adopted (renamed to the share's id). A failed removal must not turn a made share into a
      // failed upload: the staging file is left to the sweep.
      await blobs.remove(record.blobId).catch(() => undefined);
    }
    const result: UploadResult = { shareId: share.id, url: share.url, fileName: share.fileName, size: share.size, sha256: share.sha256, expiresAt: share.expiresAt };
    store.setUploadResult(hash, sealJson(token, RESULT_PURPOSE, result));
    if (record.requestId !== undefined) store.countRequestFile(record.requestId);
    return result;
  }

  /** The share an upload became, readable with the upload's token only. */
  result(token: string): UploadResult | undefined {
    const record = this.o.store.upload(secretHash(token));
    if (!record?.sealedResult) return undefined;
    const value = openJson(token, RESULT_PURPOSE, record.sealedResult) as (Omit<UploadResult, 'expiresAt'> & { expiresAt: string }) | undefined;
    return value ? { ...value, expiresAt: new Date(value.expiresAt) } : undefined;
  }

  /** Drops an unfinished upload (tus termination). */
  async abort(token: string): Promise<void> {
    const hash = secretHash(token);
    const record = this.o.store.upload(hash);
    if (!record) return;
    if (record.sealedResult === undefined) await this.o.blobs.remove(record.blobId);
    this.o.store.deleteUpload(hash);
  }

  /** Drops expired unfinished uploads and old results; returns how many records went. */
  async sweep(): Promise<number> {
    const blobIds = this.o.store.sweep(this.o.now());
    for (const id of blobIds) await this.o.blobs.remove(id);
    return blobIds.length;
  }

  private options(token: string, record: UploadRecord): SealedUploadOptions {
    const options = openJson(token, OPTIONS_PURPOSE, record.sealedOptions) as SealedUploadOptions | undefined;
    if (!options) throw new SiegelError('INTERNAL', 'upload options cannot be opened');
    return options;
  }

  private record(token: string): UploadRecord {
    const record = this.o.store.upload(secretHash(token));
    if (!record) throw new SiegelError('NOT_FOUND', 'unknown upload');
    return record;
  }
}

/** The staging blob's key: the share-to-be's key when adopted at the end, else one of the upload's own. */
function stagingKey(token: string, blobId: string, options: SealedUploadOptions): Buffer {
  if (options.shareId !== undefined && options.shareToken !== undefined) return deriveFileKey(options.shareToken, options.shareId);
  return deriveFileKey(token, blobId);
}
