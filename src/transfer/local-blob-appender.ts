/**
 * Resumable writing of one blob in the local directory store (the file
 * formats are described in file-crypto.ts). Each append ends with a commit:
 * the new full records are synced, then the unfinished record is written as
 * the new tail file (atomic rename). After a crash, reopening cuts the part
 * file back to what the tail says was committed, so offset is always what
 * is durably stored. The SHA-256 of the plaintext cannot be saved half-way
 * (node:crypto does not export hash state); reopening from disk re-reads the
 * committed records once, which also authenticates them.
 */
import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { link, mkdir, open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { SiegelError } from '../errors.js';
import { pumpContent } from './blob-content.js';
import { DIRECTORY_MODE, FILE_MODE, isMissing, readExactly, removeIfPresent, syncDirectory, writeFileAtomically } from './blob-files.js';
import type { BlobAppender, BlobContent, BlobLimits, BlobWriteResult } from './blob-store.js';
import type { DiskSpaceGuard } from './disk-space.js';
import { BlobCipher, HEADER_SIZE, TAG_SIZE } from './file-crypto.js';
import type { LocalBlobPaths } from './local-blob-paths.js';
import { RecordWriter } from './record-writer.js';

/** Tail file bytes that change with every rewrite (magic, index, random nonce): tells whether another writer was here. */
const TAIL_STAMP_SIZE = 28;

export interface LocalAppenderContext {
  readonly paths: LocalBlobPaths;
  readonly guard: DiskSpaceGuard;
  readonly recordSize: number;
  /** Called once the appender is finished or aborted. */
  readonly release: (appender: LocalBlobAppender) => void;
}

interface CommittedState {
  readonly records: number;
  readonly tail: Buffer;
  /** SHA-256 over the committed full records (the tail is hashed when its record is sealed). */
  readonly hash: Hash;
  readonly tailStamp: Buffer;
}

export class LocalBlobAppender implements BlobAppender {
  readonly id: string;
  private readonly key: Buffer;
  private readonly cipher: BlobCipher;
  private readonly context: LocalAppenderContext;
  private state: CommittedState;
  private busy = false;
  private closed = false;
  /** Memory and disk may disagree after a failed commit: only a reopen from disk is safe then. */
  private broken = false;

  constructor(id: string, key: Buffer, cipher: BlobCipher, context: LocalAppenderContext, state: CommittedState) {
    this.id = id;
    this.key = Buffer.from(key);
    this.cipher = cipher;
    this.context = context;
    this.state = state;
  }

  get offset(): number {
    return this.state.records * this.cipher.recordSize + this.state.tail.length;
  }

  /** Whether this in-memory appender may be handed out again for `key` (nobody else wrote since). */
  async reusableFor(key: Buffer): Promise<boolean> {
    if (this.closed || this.broken || this.busy || key.length !== this.key.length || !timingSafeEqual(key, this.key)) return false;
    try {
      const partSize = (await stat(this.context.paths.part(this.id))).size;
      if (partSize !== this.cipher.recordPosition(this.state.records)) return false;
      const stamp = await readTailStamp(this.context.paths.tail(this.id));
      return stamp.equals(this.state.tailStamp);
    } catch {
      return false;
    }
  }

  async append(data: BlobContent, limits: BlobLimits): Promise<number> {
    this.enter();
    try {
      await this.context.guard.check();
      const meter = this.context.guard.meter();
      const start = this.state;
      const file = await open(this.context.paths.part(this.id), 'r+');
      const hash = start.hash.copy();
      let writer: RecordWriter | undefined;
      let received: Awaited<ReturnType<typeof pumpContent>>;
      try {
        await file.truncate(this.cipher.recordPosition(start.records));
        writer = new RecordWriter(file, this.cipher, { records: start.records, tail: start.tail, hash });
        const current = writer;
        received = await pumpContent(data, async (chunk) => {
          if (current.offset + chunk.length > limits.maxBytes) {
            throw new SiegelError('FILE_TOO_LARGE', `blob would exceed ${limits.maxBytes} bytes`);
          }
          await meter(chunk.length);
          await current.push(chunk);
        });
        await writer.flush();
        await file.sync();
      } catch (error) {
        // A batch may still be on its way to the file: cut back only after it landed.
        await writer?.abandon();
        await file.truncate(this.cipher.recordPosition(start.records)).catch(() => undefined);
        throw asStorageError(error);
      } finally {
        await file.close();
      }
      await this.commit(writer.records, writer.tail(), hash);
      if (received.status === 'input-failed') throw received.error;
      return this.offset;
    } finally {
      this.busy = false;
    }
  }

  async finish(): Promise<BlobWriteResult> {
    this.enter();
    try {
      const { paths } = this.context;
      const hash = this.state.hash.copy();
      const file = await open(paths.part(this.id), 'r+');
      let size: number;
      try {
        await file.truncate(this.cipher.recordPosition(this.state.records));
        const writer = new RecordWriter(file, this.cipher, { records: this.state.records, tail: this.state.tail, hash });
        size = writer.offset;
        await writer.writeFinal();
        await file.sync();
      } catch (error) {
        throw asStorageError(error);
      } finally {
        await file.close();
      }
      try {
        // link, not rename: never replaces a sealed blob of the same id.
        await link(paths.part(this.id), paths.sealed(this.id));
      } catch (error) {
        throw (error as NodeJS.ErrnoException).code === 'EEXIST' ? new SiegelError('INTERNAL', 'blob already sealed') : asStorageError(error);
      }
      this.closed = true;
      await removeIfPresent(paths.part(this.id));
      await removeIfPresent(paths.tail(this.id));
      await syncDirectory(paths.shard(this.id));
      this.context.release(this);
      return { size, sha256: hash.digest('hex') };
    } finally {
      this.busy = false;
    }
  }

  async abort(): Promise<void> {
    this.closed = true;
    this.context.release(this);
    await removeIfPresent(this.context.paths.part(this.id));
    await removeIfPresent(this.context.paths.tail(this.id));
  }

  private enter(): void {
    if (this.closed) throw new SiegelError('INTERNAL', 'blob appender already finished or aborted');
    if (this.broken) throw new SiegelError('STORAGE_FAILED', 'unfinished blob must be reopened after a failed commit');
    if (this.busy) throw new SiegelError('INTERNAL', 'overlapping calls on a blob appender');
    this.busy = true;
  }

  private async commit(records: number, tail: Buffer, hash: Hash): Promise<void> {
    const tailFile = this.cipher.sealTail(records, tail);
    try {
      await writeFileAtomically(this.context.paths.tail(this.id), tailFile, this.context.paths.shard(this.id));
    } catch (error) {
      this.broken = true;
      throw asStorageError(error);
    }
    this.state = { records, tail, hash, tailStamp: Buffer.from(tailFile.subarray(0, TAIL_STAMP_SIZE)) };
  }
}

/** Opens the unfinished blob `id` from disk, creating it when there is none. */
export async function openLocalAppender(id: string, key: Buffer, context: LocalAppenderContext): Promise<LocalBlobAppender> {
  const { paths } = context;
  const shard = paths.shard(id);
  if (await present(paths.sealed(id))) throw new SiegelError('INTERNAL', 'blob already sealed');
  try {
    await mkdir(shard, { recursive: true, mode: DIRECTORY_MODE });
    const partSize = await sizeIfPresent(paths.part(id));
    if (partSize !== undefined && partSize < HEADER_SIZE) {
      // A crash while creating: nothing was ever committed.
      await removeIfPresent(paths.tail(id));
      await removeIfPresent(paths.part(id));
    }
    const created = await createPart(id, key, context);
    if (created !== undefined) return created;
  } catch (error) {
    throw asStorageError(error);
  }
  return resumePart(id, key, context);
}

async function createPart(id: string, key: Buffer, context: LocalAppenderContext): Promise<LocalBlobAppender | undefined> {
  const { paths } = context;
  const cipher = BlobCipher.create(key, context.recordSize);
  let file: FileHandle;
  try {
    file = await open(paths.part(id), 'wx', FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  }
  try {
    await file.writeFile(cipher.header);
    await file.sync();
  } finally {
    await file.close();
  }
  const tailFile = cipher.sealTail(0, Buffer.alloc(0));
  await writeFileAtomically(paths.tail(id), tailFile, paths.shard(id));
  return new LocalBlobAppender(id, key, cipher, context, {
    records: 0,
    tail: Buffer.alloc(0),
    hash: createHash('sha256'),
    tailStamp: Buffer.from(tailFile.subarray(0, TAIL_STAMP_SIZE)),
  });
}

async function resumePart(id: string, key: Buffer, context: LocalAppenderContext): Promise<LocalBlobAppender> {
  const { paths } = context;
  const file = await open(paths.part(id), 'r+').catch((error: unknown) => {
    throw asStorageError(error);
  });
  try {
    const cipher = BlobCipher.open(key, await readExactly(file, HEADER_SIZE, 0));
    const tailFile = await readTailFile(paths.tail(id), cipher.recordSize);
    const { index, plaintext } = tailFile === undefined ? { index: 0, plaintext: Buffer.alloc(0) } : cipher.openTail(tailFile);
    const committedEnd = cipher.recordPosition(index);
    const partSize = (await file.stat()).size;
    if (partSize < committedEnd) throw new SiegelError('DECRYPTION_FAILED', 'unfinished blob is missing committed records');
    if (partSize > committedEnd) {
      await file.truncate(committedEnd);
      await file.sync();
    }
    const hash = createHash('sha256');
    for (let record = 0; record < index; record += 1) {
      const sealed = await readExactly(file, cipher.recordSize + TAG_SIZE, cipher.recordPosition(record));
      hash.update(cipher.openRecord(record, false, sealed));
    }
    return new LocalBlobAppender(id, key, cipher, context, {
      records: index,
      tail: plaintext,
      hash,
      tailStamp: tailFile === undefined ? Buffer.alloc(0) : Buffer.from(tailFile.subarray(0, TAIL_STAMP_SIZE)),
    });
  } finally {
    await file.close();
  }
}

async function readTailFile(path: string, recordSize: number): Promise<Buffer | undefined> {
  const size = await sizeIfPresent(path);
  if (size === undefined) return undefined;
  if (size > recordSize + 64) throw new SiegelError('DECRYPTION_FAILED', 'damaged tail of an unfinished blob');
  return readFile(path);
}

async function readTailStamp(path: string): Promise<Buffer> {
  try {
    const file = await open(path, 'r');
    try {
      const stamp = Buffer.alloc(TAIL_STAMP_SIZE);
      const { bytesRead } = await file.read(stamp, 0, TAIL_STAMP_SIZE, 0);
      return stamp.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (error) {
    if (isMissing(error)) return Buffer.alloc(0);
    throw error;
  }
}

async function sizeIfPresent(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

async function present(path: string): Promise<boolean> {
  return (await sizeIfPresent(path)) !== undefined;
}

/** Catalog errors pass; file-system failures (ENOSPC, EIO, ...) become STORAGE_FAILED. */
export function asStorageError(error: unknown): SiegelError {
  if (error instanceof SiegelError) return error;
  if ((error as NodeJS.ErrnoException | null)?.code === 'ENOSPC') {
    // The one an administrator can act on: say where, not only what the system call said.
    return new SiegelError('STORAGE_FAILED', 'no space left on the disk of the large-file store (largeFiles.directory): free space there', { cause: error });
  }
  return new SiegelError('STORAGE_FAILED', `blob storage failed: ${(error as Error).message ?? String(error)}`, { cause: error });
}
