/**
 * `siegel files orphans [--delete] [--min-age 24h] [--json]`: the files of
 * the large-file store that no share and no upload refers to any more (left
 * by a crash or a failed removal, see transfer/orphaned-blobs.ts), with
 * their size and when they last changed. --delete removes those unchanged
 * for at least --min-age; younger ones may belong to a share or upload
 * being created right now and are kept.
 */
import { errorMessage } from '../errors.js';
import { parseDuration } from '../config/units.js';
import { referencedBlobIds } from '../transfer/blob-references.js';
import { storedBlobs } from '../transfer/local-blob-inventory.js';
import { LocalBlobStore } from '../transfer/local-blob-store.js';
import { MIN_AGE_MS, orphanedBlobs, type OrphanedBlob } from '../transfer/orphaned-blobs.js';
import { blobDirectory } from '../transfer/open.js';
import { ExitCode, type CommandContext } from './context.js';
import { humanSize, shortTime, table } from './files-common.js';

export interface FilesOrphansOptions {
  readonly delete?: boolean;
  readonly minAge?: string;
  readonly json?: boolean;
}

const DEFAULT_MIN_AGE = '24h';

type Outcome = 'removed' | 'would-remove' | 'kept-recent' | 'failed';

export async function filesOrphans(ctx: CommandContext, opts: FilesOrphansOptions): Promise<number> {
  const minAge = parseDuration(opts.minAge ?? DEFAULT_MIN_AGE);
  if (minAge === undefined || minAge < MIN_AGE_MS) {
    ctx.stderr.write(`siegel files orphans: --min-age takes a duration of at least 1h, such as 24h or 7d (got ${opts.minAge ?? ''})\n`);
    return ExitCode.usage;
  }
  try {
    const directory = blobDirectory(ctx.config);
    // The files first, then the references: a share or upload created in between is then referenced, not orphaned.
    const stored = await storedBlobs(directory);
    const orphans = orphanedBlobs(stored, referencedBlobIds(ctx.config.dataDir, (m) => ctx.stderr.write(`siegel files orphans: ${m}\n`)), ctx.now(), minAge);
    const blobs = new LocalBlobStore({ directory, minFreeSpace: ctx.config.largeFiles.minFreeSpace });
    const results: Array<{ orphan: OrphanedBlob; outcome: Outcome; error?: string }> = [];
    for (const orphan of orphans) {
      if (!orphan.removable) results.push({ orphan, outcome: 'kept-recent' });
      else if (opts.delete !== true) results.push({ orphan, outcome: 'would-remove' });
      else {
        try {
          await blobs.remove(orphan.id);
          results.push({ orphan, outcome: 'removed' });
        } catch (err) {
          results.push({ orphan, outcome: 'failed', error: errorMessage(err) });
        }
      }
    }
    const failed = results.filter((r) => r.outcome === 'failed');
    if (opts.json === true) {
      const json = results.map(({ orphan, outcome, error }) => ({
        id: orphan.id,
        files: orphan.files,
        bytes: orphan.bytes,
        modifiedAt: orphan.modifiedAt.toISOString(),
        sealed: orphan.sealed,
        outcome,
        ...(error === undefined ? {} : { error }),
      }));
      ctx.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    } else {
      ctx.stdout.write(report(results, directory, opts.minAge ?? DEFAULT_MIN_AGE, opts.delete === true));
    }
    for (const { orphan, error } of failed) ctx.stderr.write(`siegel files orphans: cannot remove ${orphan.id}: ${error ?? ''}\n`);
    return failed.length > 0 ? ExitCode.failure : ExitCode.ok;
  } catch (err) {
    ctx.stderr.write(`siegel files orphans: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
}

const OUTCOME_TEXT: Readonly<Record<Outcome, string>> = {
  removed: 'removed',
  'would-remove': 'orphaned (--delete removes it)',
  'kept-recent': 'kept: changed recently',
  failed: 'not removed (see below)',
};

function report(results: ReadonlyArray<{ orphan: OrphanedBlob; outcome: Outcome }>, directory: string, minAge: string, deleting: boolean): string {
  if (results.length === 0) return `Every file in ${directory} belongs to a share or an upload.\n`;
  const rows = results.map(({ orphan, outcome }) => [orphan.id, String(orphan.files.length), humanSize(orphan.bytes), shortTime(orphan.modifiedAt), OUTCOME_TEXT[outcome]]);
  const bytes = results.reduce((sum, r) => sum + r.orphan.bytes, 0);
  const removed = results.filter((r) => r.outcome === 'removed').length;
  const recent = results.filter((r) => r.outcome === 'kept-recent').length;
  const summary = [
    `${results.length} blob(s) in ${directory}, ${humanSize(bytes)}, belong to no share and no upload.`,
    deleting ? `${removed} removed.` : 'Nothing was removed (--delete removes them).',
    recent > 0 ? `${recent} changed within ${minAge} and were kept: a share or upload may be being created (--min-age).` : '',
  ].filter(Boolean);
  return `${table(['ID', 'FILES', 'SIZE', 'LAST CHANGED (UTC)', 'STATE'], rows)}\n${summary.join(' ')}\n`;
}
