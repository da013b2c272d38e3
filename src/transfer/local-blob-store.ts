/**
 * The default BlobStore: a local directory, blobs at
 * `<directory>/<shard>/<id>` (see local-blob-paths.ts), files 0600 and
 * directories 0700. One-shot writes go to a temporary name and are linked
 * to the final name only when sealed and synced, so a reader never sees a
 * half-written blob and a failed write leaves nothing behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SiegelError } from '../errors.js';
import { pumpContent } from './blob-content.js';
import { DIRECTORY_MODE, FILE_MODE, isMissing, removeIfPresent, syncDirectory } from './blob-files.js';
import { readSealedBlob } from './blob-reader.js';
import type { BlobAppender, BlobContent, BlobLimits, BlobStore, BlobWriteResult } from './blob-store.js';
import { DiskSpaceGuard, type StatFsFunction } from './disk-space.js';
import { BlobCipher, DEFAULT_RECORD_SIZE } from './file-crypto.js';
import { asStorageError, LocalBlobAppender, openLocalAppender } from './local-blob-appender.js';
import { LocalBlobPaths, validateBlobId } from './local-blob-paths.js';
import { RecordWriter } from './record-writer.js';
import type { ByteRange } from './types.js';

/** Unfinished blobs whose appender (and hash state) stays in memory, so chunked uploads do not re-read what they sent. */
const CACHED_APPENDERS = 64;

export interface LocalBlobStoreOptions {
  /** Absolute path of the blob directory (largeFiles.directory); created when missing. */
  readonly directory: string;
  /** Writes are refused (STORAGE_FAILED) while less than this many bytes are free (largeFiles.minFreeSpace). */
  readonly minFreeSpace: number;
  /** Plaintext bytes per record of new blobs (default 64 KiB); existing blobs keep theirs. */
  readonly recordSize?: number;
  /** Free-space source; fs.statfs by default. */
  readonly statfs?: StatFsFunction;
  /** Bytes written between two free-space checks (default 8 MiB). */
  readonly spaceCheckInterval?: number;
}

export class LocalBlobStore implements BlobStore {
  private readonly paths: LocalBlobPaths;
  private readonly guard: DiskSpaceGuard;
  private readonly recordSize: number;
  private readonly appenders = new Map<string, LocalBlobAppender>();

  constructor(options: LocalBlobStoreOptions) {
    this.paths = new LocalBlobPaths(options.directory);
    this.recordSize = options.recordSize ?? DEFAULT_RECORD_SIZE;
    this.guard = new DiskSpaceGuard({
      directory: options.directory,
      minFreeSpace: options.minFreeSpace,
      ...(options.statfs === undefined ? {} : { statfs: options.statfs }),
      ...(options.spaceCheckInterval === undefined ? {} : { checkInterval: options.spaceCheckInterval }),
    });
  }

  async write(id: string, key: Buffer, content: BlobContent, limits: BlobLimits): Promise<BlobWriteResult> {
    const shard = this.paths.shard(id);
    if (await this.exists(id)) throw new SiegelError('INTERNAL', 'blob already exists');
    const cipher = BlobCipher.create(key, this.recordSize);
    await this.prepareDirectory(shard);
    await this.guard.check();
    const temporary = join(shard, `${this.paths.writePrefix(id)}${randomBytes(6).toString('hex')}`);
    let file: FileHandle | undefined;
    let inputError: { readonly error: unknown } | undefined;
    try {
      file = await open(temporary, 'wx', FILE_MODE);
      await file.writeFile(cipher.header);
      const hash = createHash('sha256');
      const writer = new RecordWriter(file, cipher, { records: 0, tail: Buffer.alloc(0), hash });
      const meter = this.guard.meter();
      const received = await pumpContent(content, async (chunk) => {
        if (writer.offset + chunk.length > limits.maxBytes) {
          throw new SiegelError('FILE_TOO_LARGE', `file would exceed ${limits.maxBytes} bytes`);
        }
        await meter(chunk.length);
        await writer.push(chunk);
      });
      if (received.status === 'input-failed') {
        inputError = { error: received.error };
        throw received.error;
      }
      const size = writer.offset;
      await writer.writeFinal();
      await file.sync();
      await file.close();
      file = undefined;
      await link(temporary, this.paths.sealed(id)).catch((error: unknown) => {
        throw (error as NodeJS.ErrnoException).code === 'EEXIST' ? new SiegelError('INTERNAL', 'blob already exists') : error;
      });
      await removeIfPresent(temporary);
      await syncDirectory(shard);
      return { size, sha256: hash.digest('hex') };
    } catch (error) {
      await file?.close().catch(() => undefined);
      await removeIfPresent(temporary).catch(() => undefined);
      // The content's own failure is the caller's to interpret; everything else is ours.
      throw inputError === undefined ? asStorageError(error) : inputError.error;
    }
  }

  async openAppender(id: string, key: Buffer): Promise<BlobAppender> {
    validateBlobId(id);
    const cached = this.appenders.get(id);
    if (cached !== undefined && (await cached.reusableFor(key))) {
      this.appenders.delete(id);
      this.appenders.set(id, cached);
      return cached;
    }
    await this.prepareDirectory(this.paths.shard(id));
    const appender = await openLocalAppender(id, key, {
      paths: this.paths,
      guard: this.guard,
      recordSize: this.recordSize,
      release: (done) => {
        if (this.appenders.get(done.id) === done) this.appenders.delete(done.id);
      },
    });
    this.appenders.delete(id);
    this.appenders.set(id, appender);
    if (this.appenders.size > CACHED_APPENDERS) {
      const oldest = this.appenders.keys().next().value;
      if (oldest !== undefined) this.appenders.delete(oldest);
    }
    return appender;
  }

  read(id: string, key: Buffer, range?: ByteRange): Readable {
    let path: string;
    try {
      path = this.paths.sealed(id);
    } catch (error) {
      return new Readable({
        read() {
          this.destroy(error as Error);
        },
      });
    }
    return readSealedBlob(path, key, range);
  }

  /** A hard link under the new name, then the old name goes: at no moment is the blob under neither. */
  async rename(from: string, to: string): Promise<void> {
    const source = this.paths.sealed(from);
    const target = this.paths.sealed(to);
    await this.prepareDirectory(this.paths.shard(to));
    try {
      await link(source, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new SiegelError('INTERNAL', 'blob already exists');
      if (code === 'ENOENT') throw new SiegelError('NOT_FOUND', 'no such blob');
      throw asStorageError(error);
    }
    await syncDirectory(this.paths.shard(to));
    await removeIfPresent(source);
    await syncDirectory(this.paths.shard(from));
  }

  async exists(id: string): Promise<boolean> {
    try {
      return (await stat(this.paths.sealed(id))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async remove(id: string): Promise<void> {
    const shard = this.paths.shard(id);
    this.appenders.delete(id);
    let names: string[];
    try {
      names = await readdir(shard);
    } catch (error) {
      if (isMissing(error)) return;
      throw asStorageError(error);
    }
    // The blob, its unfinished parts and temporary files: ids contain no dot, so `${id}.` matches only this blob's files.
    for (const name of names) {
      if (name === id || name.startsWith(`${id}.`)) await removeIfPresent(join(shard, name));
    }
  }

  freeSpace(): Promise<number> {
    return this.guard.freeSpace();
  }

  private async prepareDirectory(shard: string): Promise<void> {
    try {
      await mkdir(this.paths.directory, { recursive: true, mode: DIRECTORY_MODE });
      await mkdir(shard, { recursive: true, mode: DIRECTORY_MODE });
    } catch (error) {
      throw asStorageError(error);
    }
  }
}
