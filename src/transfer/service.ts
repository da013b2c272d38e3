/**
 * The large-file exchange's core (issue 4): TransferService over a
 * TransferStore (metadata) and a BlobStore (encrypted contents). Every edge
 * (offloading, CLI, web) goes through here, so limits, passwords, download
 * counting and the audit log are enforced in one place.
 *
 * A share becomes visible only when its metadata row exists, and that row
 * is written last: after the blob is sealed, scanned and the quota checked
 * once more in the same transaction as the insert. Any failure before that
 * removes the blob, so nothing half-stored is ever downloadable.
 */
import type { Readable } from 'node:stream';
import type { Config } from '../config/schema.js';
import { errorMessage, SiegelError } from '../errors.js';
import type { Logger } from '../log.js';
import { deriveFileKey, type BlobContent, type BlobStore } from './blob-store.js';
import type { VirusScanner } from './clamd.js';
import { sanitizeFileName } from './file-names.js';
import { firstDownloadNotice } from './first-download-notice.js';
import { hashSharePassword, sharePasswordMatches } from './share-password.js';
import { normalizeContentType, normalizeOwner, resolveRange, shareLifetime, validateExpectedSize, validateMaxDownloads } from './share-options.js';
import { shareInfo, shareState } from './share-state.js';
import { isTokenShaped, newShareId, newToken, sameTokenHash, shareUrl, tokenHash } from './tokens.js';
import type { ShareRecord, TransferStore } from './transfer-store.js';
import type {
  AuditEntry,
  ByteRange,
  CreatedShare,
  DownloadRequest,
  DownloadResult,
  Notifier,
  PasswordCheck,
  PreparedBlob,
  ShareInfo,
  ShareLookup,
  ShareOptions,
  TransferService,
} from './types.js';

/** A new share's options, validated and normalised. */
interface Settings {
  readonly owner: string;
  readonly fileName: string;
  readonly contentType: string;
  readonly lifetime: number;
  readonly maxDownloads: number | null;
  readonly passwordHash: string | null;
}

/** Shares handled per sweep batch. */
const SWEEP_BATCH = 200;

export interface TransferServiceOptions {
  readonly config: Pick<Config, 'largeFiles' | 'web'>;
  readonly store: TransferStore;
  readonly blobs: BlobStore;
  /** Mails owners on first downloads; without one, no notification is sent (the CLI never downloads). */
  readonly notifier?: Notifier;
  /** Scans every file before it becomes downloadable (largeFiles.virusScan.clamd); none when absent. */
  readonly scanner?: VirusScanner;
  readonly logger: Logger;
  readonly now: () => Date;
}

export class SiegelTransferService implements TransferService {
  readonly #options: TransferServiceOptions;
  readonly #limits: Config['largeFiles'];
  readonly #store: TransferStore;
  readonly #blobs: BlobStore;
  readonly #logger: Logger;
  readonly #now: () => Date;
  /** Notifications under way; close() waits for them. */
  readonly #pending = new Set<Promise<void>>();

  constructor(options: TransferServiceOptions) {
    this.#options = options;
    this.#limits = options.config.largeFiles;
    this.#store = options.store;
    this.#blobs = options.blobs;
    this.#logger = options.logger;
    this.#now = options.now;
  }

  async share(content: Readable | AsyncIterable<Buffer>, options: ShareOptions): Promise<CreatedShare> {
    const { maxFileSize, ownerQuota } = this.#limits;
    validateExpectedSize(options.expectedSize, maxFileSize);
    const settings = await this.#settle(options);
    const owner = settings.owner;

    const remaining = ownerQuota - (await this.#store.activeBytes(owner, this.#now()));
    if (remaining < 0 || (options.expectedSize ?? 0) > remaining) throw quotaExceeded(owner, ownerQuota);
    const maxBytes = Math.min(maxFileSize, remaining);

    const id = newShareId();
    const token = newToken();
    const key = deriveFileKey(token, id);
    let written: { size: number; sha256: string };
    try {
      written = await this.#blobs.write(id, key, content as BlobContent, { maxBytes });
    } catch (err) {
      // The blob store only knows the smaller of the two limits; say which one was hit.
      if (err instanceof SiegelError && err.code === 'FILE_TOO_LARGE' && maxBytes < maxFileSize) throw quotaExceeded(owner, ownerQuota);
      throw err;
    }
    return this.#publish({ id, token, key, ...written }, settings, options);
  }

  /**
   * The blob is renamed, not copied: a finished upload was encrypted once,
   * as it arrived, under the key of the share it becomes. The key is
   * checked against the blob (its header's key check and its first and
   * last records) before the share exists.
   */
  async adopt(blob: PreparedBlob, options: ShareOptions): Promise<CreatedShare> {
    let settings: Settings;
    try {
      if (!/^[0-9a-f]{32}$/.test(blob.id) || !isTokenShaped(blob.token)) throw new SiegelError('INTERNAL', 'prepared blob with an invalid share id or token');
      if (this.#blobs.rename === undefined) throw new SiegelError('INTERNAL', 'the blob store cannot adopt blobs');
      settings = await this.#settle(options);
      const { maxFileSize, ownerQuota } = this.#limits;
      validateExpectedSize(blob.size, maxFileSize);
      const remaining = ownerQuota - (await this.#store.activeBytes(settings.owner, this.#now()));
      if (blob.size > remaining) throw quotaExceeded(settings.owner, ownerQuota);
      await this.#blobs.rename(blob.blobId, blob.id);
    } catch (err) {
      await this.#removeBlob(blob.blobId);
      throw err;
    }
    const key = deriveFileKey(blob.token, blob.id);
    try {
      const probe = this.#blobs.read(blob.id, key, blob.size === 0 ? undefined : { start: 0, end: 0 });
      for await (const chunk of probe) void chunk;
    } catch (err) {
      await this.#removeBlob(blob.id);
      throw err;
    }
    return this.#publish({ id: blob.id, token: blob.token, key, size: blob.size, sha256: blob.sha256 }, settings, options);
  }

  /** The options of a new share, validated and normalised; the password hashed. */
  async #settle(options: ShareOptions): Promise<Settings> {
    return {
      owner: normalizeOwner(options.owner),
      fileName: sanitizeFileName(options.fileName),
      contentType: normalizeContentType(options.contentType),
      lifetime: shareLifetime(options.expiresIn, this.#limits),
      maxDownloads: validateMaxDownloads(options.maxDownloads),
      passwordHash: options.password === undefined ? null : await hashSharePassword(options.password),
    };
  }

  /**
   * Makes a stored blob downloadable: scan, then the metadata row (the
   * quota checked once more in the same transaction); any failure removes
   * the blob. Then the audit entry and the link.
   */
  async #publish(blob: { id: string; token: string; key: Buffer; size: number; sha256: string }, settings: Settings, options: ShareOptions): Promise<CreatedShare> {
    const { id, token, key } = blob;
    const { owner, fileName } = settings;
    const { ownerQuota } = this.#limits;
    const createdAt = this.#now();
    const record: ShareRecord = {
      id,
      tokenHash: tokenHash(token),
      owner,
      fileName,
      contentType: settings.contentType,
      size: blob.size,
      sha256: blob.sha256,
      origin: options.origin,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + settings.lifetime),
      downloads: 0,
      maxDownloads: settings.maxDownloads,
      passwordHash: settings.passwordHash,
      notifyOnFirstDownload: options.notifyOnFirstDownload ?? this.#limits.notifyOnFirstDownload,
      failedAttempts: 0,
      lockedUntil: null,
      revokedAt: null,
      blobDeletedAt: null,
    };
    try {
      await this.#scan(record, key);
      // Checked again with the insert: a concurrent share of the same owner may have used the room meanwhile.
      if (!(await this.#store.insertShare(record, { limit: ownerQuota, now: createdAt }))) throw quotaExceeded(owner, ownerQuota);
    } catch (err) {
      await this.#removeBlob(id);
      throw err;
    }
    await this.#audit({
      at: createdAt,
      event: options.origin === 'upload-request' ? 'upload' : 'share',
      shareId: id,
      actor: owner,
      fileName,
      size: blob.size,
      ...(options.clientIp === undefined ? {} : { clientIp: options.clientIp }),
      detail: `origin=${options.origin}`,
    });
    this.#logger.info({ share: id, owner, size: blob.size, origin: options.origin }, 'file shared');
    return {
      id,
      token,
      url: shareUrl(this.#options.config.web.publicUrl, token),
      fileName,
      size: blob.size,
      sha256: blob.sha256,
      expiresAt: record.expiresAt,
    };
  }

  async #removeBlob(id: string): Promise<void> {
    await this.#blobs.remove(id).catch((removeError: unknown) => {
      this.#logger.error({ share: id, error: errorMessage(removeError) }, 'cannot remove the file of a failed share');
    });
  }

  async lookup(token: string): Promise<ShareLookup> {
    const record = await this.#find(token);
    if (record === undefined) return { status: 'unknown' };
    const info = shareInfo(record, this.#now());
    return info.state === 'active' ? { status: 'ok', info } : { status: 'gone' };
  }

  /** Unknown and inactive shares answer 'wrong': the web edge asks lookup() first, and nothing here may tell tokens apart. */
  async checkPassword(token: string, password: string, clientIp?: string): Promise<PasswordCheck> {
    const record = await this.#find(token);
    if (record === undefined || shareState(record, this.#now()) !== 'active') return 'wrong';
    if (record.passwordHash === null) return 'not-required';
    return this.#attemptPassword(record, record.passwordHash, password, clientIp);
  }

  async download(token: string, request: DownloadRequest): Promise<DownloadResult> {
    const record = await this.#find(token);
    if (record === undefined) return { status: 'unknown' };
    if (shareState(record, this.#now()) !== 'active') return { status: 'gone' };
    if (record.passwordHash !== null) {
      if (request.password === undefined) return { status: 'password-required' };
      const check = await this.#attemptPassword(record, record.passwordHash, request.password, request.clientIp);
      if (check === 'locked') return { status: 'locked' };
      if (check !== 'ok') return { status: 'password-required' };
    }
    const range = resolveRange(request.range, record.size);
    if (range === undefined) return { status: 'range-not-satisfiable', size: record.size };

    const stream = this.#blobs.read(record.id, deriveFileKey(token, record.id), record.size === 0 ? undefined : range);
    // Open the file before counting: a blob swept a moment ago is 'gone', not a broken download.
    const opened = await primed(stream);
    if (opened !== undefined) {
      stream.destroy();
      if (opened instanceof SiegelError && opened.code === 'NOT_FOUND') return { status: 'gone' };
      throw opened;
    }
    try {
      return await this.#countAndAudit(record, range, request, stream);
    } catch (err) {
      // Whatever failed after the file was opened, its handle is not left open.
      stream.destroy();
      throw err;
    }
  }

  async #countAndAudit(record: ShareRecord, range: ByteRange, request: DownloadRequest, stream: Readable): Promise<DownloadResult> {
    let downloads = record.downloads;
    const at = this.#now();
    if (range.start === 0) {
      const counted = await this.#store.countDownload(record.id, at);
      if (counted === undefined) {
        // Exhausted, revoked or expired since we looked: the limit holds even for simultaneous requests.
        stream.destroy();
        return { status: 'gone' };
      }
      downloads = counted;
      if (counted === 1 && record.notifyOnFirstDownload) this.#notifyFirstDownload(record, at, request.clientIp);
    }
    const length = record.size === 0 ? 0 : range.end - range.start + 1;
    await this.#audit({
      at,
      event: 'download',
      shareId: record.id,
      fileName: record.fileName,
      size: length,
      ...(request.clientIp === undefined ? {} : { clientIp: request.clientIp }),
      ...(length === record.size ? {} : { detail: `bytes ${range.start}-${range.end}/${record.size}` }),
    });
    return { status: 'ok', info: shareInfo({ ...record, downloads }, at), range, stream };
  }

  async revoke(id: string, owner?: string): Promise<boolean> {
    const at = this.#now();
    const by = owner === undefined ? undefined : owner.trim().toLowerCase();
    const record = await this.#store.get(id);
    if (record === undefined || !(await this.#store.revoke(id, at, by))) return false;
    await this.#audit({ at, event: 'revoke', shareId: id, actor: by ?? 'admin', fileName: record.fileName, size: record.size });
    // Revoked means gone now, not at the next sweep; should removal fail, the sweep tries again.
    try {
      await this.#blobs.remove(id);
      await this.#store.markBlobDeleted(id, this.#now());
    } catch (err) {
      this.#logger.error({ share: id, error: errorMessage(err) }, 'cannot delete the file of a revoked share; the sweep retries');
    }
    return true;
  }

  async list(filter: { readonly owner?: string; readonly includeInactive?: boolean } = {}): Promise<ShareInfo[]> {
    const now = this.#now();
    const records = await this.#store.list(filter.owner === undefined ? {} : { owner: filter.owner.trim().toLowerCase() });
    const infos = records.map((record) => shareInfo(record, now));
    return filter.includeInactive === true ? infos : infos.filter((info) => info.state === 'active');
  }

  audit(filter: { readonly shareId?: string; readonly since?: Date; readonly limit?: number } = {}): Promise<AuditEntry[]> {
    return this.#store.audit(filter);
  }

  async recordAudit(entry: AuditEntry): Promise<void> {
    await this.#audit(entry);
  }

  async sweep(): Promise<number> {
    let deleted = 0;
    const failed = new Set<string>();
    for (;;) {
      const now = this.#now();
      const batch = (await this.#store.sweepCandidates(now, SWEEP_BATCH + failed.size)).filter((record) => !failed.has(record.id));
      if (batch.length === 0) return deleted;
      for (const record of batch) {
        try {
          await this.#blobs.remove(record.id);
          // Another process sweeping at the same time: only one of us writes the audit entry.
          if (!(await this.#store.markBlobDeleted(record.id, now))) continue;
          deleted += 1;
          await this.#audit({ at: now, event: 'expire', shareId: record.id, actor: record.owner, fileName: record.fileName, size: record.size, detail: shareState(record, now) });
        } catch (err) {
          failed.add(record.id);
          this.#logger.error({ share: record.id, error: errorMessage(err) }, 'sweep: cannot delete file');
        }
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    await this.#store.close();
  }

  async #find(token: string): Promise<ShareRecord | undefined> {
    if (!isTokenShaped(token)) return undefined;
    const hash = tokenHash(token);
    const record = await this.#store.findByTokenHash(hash);
    return record !== undefined && sameTokenHash(record.tokenHash, hash) ? record : undefined;
  }

  /**
   * The attempt is counted before scrypt runs, so parallel guesses cannot
   * outrun the lockout; a correct password clears the count.
   */
  async #attemptPassword(record: ShareRecord, passwordHash: string, password: string, clientIp: string | undefined): Promise<'ok' | 'wrong' | 'locked'> {
    const at = this.#now();
    const attempt = await this.#store.reservePasswordAttempt(record.id, at, {
      maxAttempts: this.#limits.passwordAttempts,
      lockoutMs: this.#limits.lockout,
    });
    if (attempt === undefined) return 'wrong';
    if (attempt.status === 'locked') return 'locked';
    if (await sharePasswordMatches(password, passwordHash)) {
      await this.#store.clearPasswordFailures(record.id);
      return 'ok';
    }
    const ip = clientIp === undefined ? {} : { clientIp };
    await this.#audit({ at, event: 'password-failed', shareId: record.id, fileName: record.fileName, ...ip });
    if (!attempt.locksNow) return 'wrong';
    const until = attempt.lockedUntil ?? at;
    await this.#audit({ at, event: 'locked', shareId: record.id, fileName: record.fileName, ...ip, detail: `until ${until.toISOString()}` });
    this.#logger.warn({ share: record.id, until: until.toISOString() }, 'share locked after wrong passwords');
    return 'locked';
  }

  async #scan(record: ShareRecord, key: Buffer): Promise<void> {
    const scanner = this.#options.scanner;
    if (scanner === undefined) return;
    // The plaintext, decrypted from what was stored: exactly what a download would deliver.
    const plaintext = this.#blobs.read(record.id, key);
    let result;
    try {
      result = await scanner.scan(plaintext);
    } finally {
      plaintext.destroy();
    }
    if (result.status === 'infected') {
      this.#logger.warn({ share: record.id, owner: record.owner, signature: result.signature }, 'virus scanner rejected a file');
      throw new SiegelError('FILE_INFECTED', `the virus scanner found ${result.signature} in "${record.fileName}"; the file was not stored`);
    }
  }

  #notifyFirstDownload(record: ShareRecord, at: Date, clientIp: string | undefined): void {
    const notifier = this.#options.notifier;
    if (notifier === undefined) return;
    const sending = notifier
      .send(firstDownloadNotice(record, at, clientIp))
      .catch((err: unknown) => {
        // The download goes on; the owner just misses a mail.
        this.#logger.warn({ share: record.id, error: errorMessage(err) }, 'cannot send first-download notification');
      })
      .finally(() => this.#pending.delete(sending));
    this.#pending.add(sending);
  }

  /** The audit log must not turn a completed action into a failure; a write error is logged instead. */
  async #audit(entry: AuditEntry): Promise<void> {
    try {
      await this.#store.appendAudit(entry);
    } catch (err) {
      this.#logger.error({ event: entry.event, share: entry.shareId, error: errorMessage(err) }, 'cannot write audit entry');
    }
  }
}

function quotaExceeded(owner: string, quota: number): SiegelError {
  return new SiegelError('QUOTA_EXCEEDED', `the shared files of ${owner} would exceed the quota of ${quota} bytes`);
}

/**
 * Waits until the stream has data, has ended or has failed, without
 * consuming anything; resolves with the error, if any. The caller pipes
 * the stream afterwards as if nothing had happened.
 */
function primed(stream: Readable): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const done = (error?: Error) => {
      stream.off('readable', onReadable);
      stream.off('error', done);
      // The stream reads ahead before the caller pipes it: an error in between (a damaged record) must not
      // be unhandled and end the process; the pipe still sees it (error listeners all run).
      stream.on('error', () => undefined);
      resolve(error);
    };
    const onReadable = () => done();
    stream.on('readable', onReadable);
    stream.on('error', done);
  });
}
