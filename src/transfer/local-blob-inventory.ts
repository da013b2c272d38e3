/**
 * What the local blob store holds on disk, by blob id: every file of a blob
 * (sealed, `.part`/`.tail` of an unfinished one, `.w-*`/`.tmp-*` of an
 * interrupted write), its size and when it last changed. Only reads. Names
 * that are not the store's own (no blob id, or in another shard than the
 * id's) are left out, so nothing else in the directory is ever counted as
 * a blob, let alone removed.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isMissing } from './blob-files.js';
import { isBlobId, LocalBlobPaths } from './local-blob-paths.js';

export interface StoredBlob {
  readonly id: string;
  /** File names in its shard directory, sorted. */
  readonly files: readonly string[];
  readonly bytes: number;
  /**
   * When any of its files last changed: modified, or renamed (the status
   * change time), since a finished upload becomes a share's file by a
   * rename that keeps its old modification time.
   */
  readonly modifiedAt: Date;
  /** Whether a sealed (finished) blob is among the files. */
  readonly sealed: boolean;
}

const SHARD = /^[0-9a-f]{2}$/;

export async function storedBlobs(directory: string): Promise<StoredBlob[]> {
  const paths = new LocalBlobPaths(directory);
  const found = new Map<string, { files: string[]; bytes: number; modified: number; sealed: boolean }>();
  for (const shard of await names(directory)) {
    if (!SHARD.test(shard)) continue;
    for (const name of await names(join(directory, shard))) {
      const id = name.split('.', 1)[0] ?? '';
      if (!isBlobId(id) || paths.shard(id) !== join(directory, shard)) continue;
      let stats;
      try {
        stats = await lstat(join(directory, shard, name));
      } catch (error) {
        if (isMissing(error)) continue; // removed meanwhile
        throw error;
      }
      if (!stats.isFile()) continue;
      const entry = found.get(id) ?? { files: [], bytes: 0, modified: 0, sealed: false };
      entry.files.push(name);
      entry.bytes += stats.size;
      entry.modified = Math.max(entry.modified, stats.mtimeMs, stats.ctimeMs);
      entry.sealed ||= name === id;
      found.set(id, entry);
    }
  }
  return [...found]
    .map(([id, e]) => ({ id, files: e.files.sort(), bytes: e.bytes, modifiedAt: new Date(e.modified), sealed: e.sealed }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Entry names of a directory; none when it does not exist (a store nothing was shared into yet). */
async function names(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}
