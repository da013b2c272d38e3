/**
 * `siegel files orphans [--delete]` through main() (src/cli.ts), on a store
 * that holds what a crash leaves behind next to what must never be touched:
 * a share's file, an upload in progress, a file changed a moment ago, and
 * files that are not the store's own.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { LocalBlobPaths } from '../../src/transfer/local-blob-paths.js';
import { LocalBlobStore } from '../../src/transfer/local-blob-store.js';
import { blobDirectory, openTransferService } from '../../src/transfer/open.js';
import { SqliteStaffStore } from '../../src/transfer/sqlite-staff-store.js';
import { runSiegel } from '../cli/run-siegel.js';
import { tempDir } from '../pki/test-pki.js';
import { chunked, readAll } from './blob-test-helpers.js';

// The command's clock runs three days ahead: it counts a rename (the status change time, which tests cannot set)
// as a change too, so every file created by the test has changed at least that long before NOW unless its
// modification time is set later.
const NOW = new Date(Date.now() + 3 * 86_400_000);
const DAY = 86_400_000;

async function siegel(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = await runSiegel(argv, { now: NOW });
  return { code: run.code, stdout: run.stdout.toString('utf8'), stderr: run.stderr };
}

/** Sets the modification time of every file of a blob (the store's layout: `<shard>/<id>[.suffix]`). */
function age(directory: string, id: string, at: Date): void {
  const shard = new LocalBlobPaths(directory).shard(id);
  for (const name of readdirSync(shard)) if (name === id || name.startsWith(`${id}.`)) utimesSync(path.join(shard, name), at, at);
}

function filesOf(directory: string, id: string): string[] {
  const shard = new LocalBlobPaths(directory).shard(id);
  return existsSync(shard) ? readdirSync(shard).filter((name) => name === id || name.startsWith(`${id}.`)) : [];
}

interface Listed {
  readonly id: string;
  readonly files: string[];
  readonly bytes: number;
  readonly sealed: boolean;
  readonly outcome: string;
}

describe('siegel files orphans', () => {
  it('lists and removes only files no share or upload refers to, and only old ones', async () => {
    const dir = tempDir('siegel-orphans-');
    const config = path.join(dir, 'siegel.yaml');
    writeFileSync(config, `dataDir: ${path.join(dir, 'data')}\ntrustAnchors: ${path.join(dir, 'anchors')}\nweb:\n  publicUrl: https://dateien.stadt.example\nlargeFiles:\n  minFreeSpace: 1MB\n`);
    const loaded = loadConfig({ file: config, env: {} });
    const directory = blobDirectory(loaded);
    const old = new Date(NOW.getTime() - 2 * DAY);

    // A real share (its file is referenced by its row), old.
    const file = path.join(dir, 'Plan.pdf');
    const data = randomBytes(70_000);
    writeFileSync(file, data);
    const shared = await siegel(['files', 'share', '--config', config, '--owner', 'bauamt@stadt.example', file, '--json']);
    expect(shared.code).toBe(0);
    const share = JSON.parse(shared.stdout) as { id: string; token: string };
    age(directory, share.id, old);

    const blobs = new LocalBlobStore({ directory, minFreeSpace: 1024 * 1024 });
    // What a crash between a share's file and its row leaves: a sealed blob without a row.
    const orphan = randomBytes(16).toString('hex');
    await blobs.write(orphan, randomBytes(32), chunked(randomBytes(5000)), { maxBytes: 10_000 });
    age(directory, orphan, old);
    // An interrupted one-shot write's temporary file.
    const interrupted = randomBytes(16).toString('hex');
    mkdirSync(new LocalBlobPaths(directory).shard(interrupted), { recursive: true });
    writeFileSync(path.join(new LocalBlobPaths(directory).shard(interrupted), `${interrupted}.w-1a2b3c`), randomBytes(3000));
    age(directory, interrupted, old);
    // A file without a row that changed two hours ago: perhaps a share being created right now.
    const recent = randomBytes(16).toString('hex');
    await blobs.write(recent, randomBytes(32), chunked(randomBytes(2000)), { maxBytes: 10_000 });
    age(directory, recent, new Date(NOW.getTime() - 2 * 3_600_000));
    // An upload in progress: its staging blob is referenced by its row, however old.
    const upload = `upload-${randomBytes(16).toString('hex')}`;
    const appender = await blobs.openAppender(upload, randomBytes(32));
    await appender.append(chunked(randomBytes(4000)), { maxBytes: 100_000 });
    const staff = SqliteStaffStore.open(loaded.dataDir);
    staff.saveUpload(randomBytes(32).toString('hex'), { blobId: upload, owner: 'bauamt@stadt.example', size: 100_000, createdAt: old, expiresAt: new Date(NOW.getTime() + DAY), sealedOptions: Buffer.from('sealed') });
    staff.close();
    age(directory, upload, old);
    // Not the store's own: a note at the top, a name in a directory that is no shard, a blob id in the wrong shard.
    writeFileSync(path.join(directory, 'README.txt'), 'backup notes');
    mkdirSync(path.join(directory, 'archive'));
    writeFileSync(path.join(directory, 'archive', orphan), 'not a blob');
    const misplaced = randomBytes(16).toString('hex');
    const wrongShard = ['00', 'ff'].find((s) => path.join(directory, s) !== new LocalBlobPaths(directory).shard(misplaced)) as string;
    mkdirSync(path.join(directory, wrongShard), { recursive: true });
    writeFileSync(path.join(directory, wrongShard, misplaced), 'misplaced');
    utimesSync(path.join(directory, wrongShard, misplaced), old, old);

    const listed = await siegel(['files', 'orphans', '--config', config, '--json']);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.stdout) as Listed[];
    expect(entries.map((e) => [e.id, e.outcome]).sort()).toEqual(
      [
        [orphan, 'would-remove'],
        [interrupted, 'would-remove'],
        [recent, 'kept-recent'],
      ].sort(),
    );
    expect(entries.find((e) => e.id === orphan)).toMatchObject({ files: [orphan], sealed: true });
    expect(entries.find((e) => e.id === interrupted)).toMatchObject({ files: [`${interrupted}.w-1a2b3c`], bytes: 3000, sealed: false });

    const text = await siegel(['files', 'orphans', '--config', config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('3 blob(s) in');
    expect(text.stdout).toContain('Nothing was removed (--delete removes them).');
    expect(text.stdout).toContain('1 changed within 24h and were kept');
    // Listing removed nothing.
    expect(filesOf(directory, orphan)).toEqual([orphan]);

    const deleted = await siegel(['files', 'orphans', '--config', config, '--delete']);
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain('2 removed.');
    expect(filesOf(directory, orphan)).toEqual([]);
    expect(filesOf(directory, interrupted)).toEqual([]);
    expect(filesOf(directory, recent)).toEqual([recent]);
    expect(filesOf(directory, upload).length).toBeGreaterThan(0);
    expect(existsSync(path.join(directory, 'README.txt'))).toBe(true);
    expect(existsSync(path.join(directory, 'archive', orphan))).toBe(true);
    expect(existsSync(path.join(directory, wrongShard, misplaced))).toBe(true);
    // The share still downloads, byte for byte.
    const service = openTransferService(loaded, { logger: silentLogger(), now: () => NOW });
    try {
      const result = await service.download(share.token, {});
      if (result.status !== 'ok') throw new Error(result.status);
      expect((await readAll(result.stream)).equals(data)).toBe(true);
    } finally {
      await service.close();
    }

    // A shorter --min-age also takes the recent one; afterwards nothing is left to list.
    const younger = await siegel(['files', 'orphans', '--config', config, '--delete', '--min-age', '1h']);
    expect(younger.code).toBe(0);
    expect(filesOf(directory, recent)).toEqual([]);
    const none = await siegel(['files', 'orphans', '--config', config]);
    expect(none.stdout).toMatch(/^Every file in .* belongs to a share or an upload\.\n$/);
  });

  it('keeps a file whose modification time is old but which was renamed (status changed) a moment ago: a finished upload becoming a share', async () => {
    const dir = tempDir('siegel-orphans-');
    const config = path.join(dir, 'siegel.yaml');
    writeFileSync(config, `dataDir: ${path.join(dir, 'data')}\ntrustAnchors: ${path.join(dir, 'anchors')}\n`);
    const directory = blobDirectory(loadConfig({ file: config, env: {} }));
    const blobs = new LocalBlobStore({ directory, minFreeSpace: 1024 * 1024 });
    const staged = `upload-${randomBytes(16).toString('hex')}`;
    await blobs.write(staged, randomBytes(32), chunked(randomBytes(3000)), { maxBytes: 10_000 });
    const longAgo = new Date(Date.now() - 10 * DAY);
    age(directory, staged, longAgo);
    // What adopt() does: the sealed upload becomes the share's file under the share's id, its row not yet written.
    const shareId = randomBytes(16).toString('hex');
    await blobs.rename?.(staged, shareId);
    age(directory, shareId, longAgo);
    const run = await runSiegel(['files', 'orphans', '--config', config, '--delete', '--json'], { now: new Date(Date.now() + 600_000) });
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout.toString('utf8')) as Listed[]).map((e) => [e.id, e.outcome])).toEqual([[shareId, 'kept-recent']]);
    expect(filesOf(directory, shareId)).toEqual([shareId]);
  });

  it('refuses a --min-age that is not a duration, or below an hour (exit 2), and says so', async () => {
    const dir = tempDir('siegel-orphans-');
    const config = path.join(dir, 'siegel.yaml');
    writeFileSync(config, `dataDir: ${path.join(dir, 'data')}\ntrustAnchors: ${path.join(dir, 'anchors')}\n`);
    for (const minAge of ['yesterday', '0s', '30m']) {
      const run = await siegel(['files', 'orphans', '--config', config, '--delete', '--min-age', minAge]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`--min-age takes a duration of at least 1h, such as 24h or 7d (got ${minAge})`);
    }
  });

  it('reports an empty or missing store as having nothing orphaned', async () => {
    const dir = tempDir('siegel-orphans-');
    const config = path.join(dir, 'siegel.yaml');
    writeFileSync(config, `dataDir: ${path.join(dir, 'data')}\ntrustAnchors: ${path.join(dir, 'anchors')}\n`);
    const run = await siegel(['files', 'orphans', '--config', config, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([]);
  });
});
