/**
 * Files of the blob store that no share and no upload refers to. They are
 * left behind only by a crash or a failed removal: between writing a
 * share's file and its database row, by an interrupted write's temporary
 * file, or when an expired upload's row was swept but its file could not be
 * removed. No sweep finds them, so they cost disk until an administrator
 * runs `siegel files orphans --delete`.
 *
 * A file that changed within `minAge` is never counted as removable: a share
 * or upload may be in the middle of being created (its file is written, or
 * an upload's renamed, before its row, and a virus scan may run between)
 * by a gateway or CLI running now. MIN_AGE_MS is the least that is safe.
 */
import type { StoredBlob } from './local-blob-inventory.js';

/** Below this, a share whose file is still being scanned could be taken for an orphan. */
export const MIN_AGE_MS = 3_600_000;

export interface OrphanedBlob extends StoredBlob {
  /** Old enough to be removed (unchanged for at least minAge). */
  readonly removable: boolean;
}

/** `stored` must be listed before `referenced` is read, so a blob created in between is not taken for an orphan. */
export function orphanedBlobs(stored: readonly StoredBlob[], referenced: ReadonlySet<string>, now: Date, minAgeMs: number): OrphanedBlob[] {
  return stored.filter((blob) => !referenced.has(blob.id)).map((blob) => ({ ...blob, removable: now.getTime() - blob.modifiedAt.getTime() >= minAgeMs }));
}
