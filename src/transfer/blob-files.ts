/** File-system steps the local blob store needs to be crash-safe. */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { SiegelError } from '../errors.js';

/** Owner-only permissions: blobs are encrypted, but nobody else needs to see even their sizes. */
export const FILE_MODE = 0o600;
export const DIRECTORY_MODE = 0o700;

/**
 * Reads exactly `length` bytes at `position`; a short file is a damaged
 * blob. Into the start of `into` when given (at least `length` bytes, the
 * caller's to reuse), else into a new buffer.
 */
export async function readExactly(file: FileHandle, length: number, position: number, into?: Buffer): Promise<Buffer> {
  // Not zero-filled: every byte is overwritten before the buffer is returned (a short read throws it away).
  const buffer = into === undefined ? Buffer.allocUnsafe(length) : into.subarray(0, length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new SiegelError('DECRYPTION_FAILED', 'blob truncated');
    filled += bytesRead;
  }
  return buffer;
}

/** Makes renames and new names in `directory` durable. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` with `data` so a crash leaves either the old or the new content, never a mix. */
export async function writeFileAtomically(path: string, data: Buffer, directory: string): Promise<void> {
  const temporary = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    const handle = await open(temporary, 'wx', FILE_MODE);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await removeIfPresent(temporary);
    throw error;
  }
  await syncDirectory(directory);
}

export async function removeIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
