/** A TransferService on a real LocalBlobStore and SqliteTransferStore in a temporary directory, with a clock the test moves. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import type { VirusScanner } from '../../src/transfer/clamd.js';
import { LocalBlobStore } from '../../src/transfer/local-blob-store.js';
import { SiegelTransferService } from '../../src/transfer/service.js';
import { SqliteTransferStore } from '../../src/transfer/sqlite-transfer-store.js';
import type { Notifier } from '../../src/transfer/types.js';
import { tempDir } from '../pki/test-pki.js';

export const START = new Date('2026-11-23T09:00:00.000Z');

export interface ServiceFixture {
  readonly service: SiegelTransferService;
  readonly dir: string;
  readonly dataDir: string;
  readonly blobDir: string;
  readonly blobs: LocalBlobStore;
  readonly clock: { now: Date };
  advance(ms: number): void;
  /** Every file below the blob directory. */
  blobFiles(): string[];
  /** siegel.db with its -wal file, as bytes. */
  databaseBytes(): Buffer;
}

export function serviceFixture(
  options: { largeFiles?: ConfigInput['largeFiles']; publicUrl?: string; notifier?: Notifier; scanner?: VirusScanner } = {},
): ServiceFixture {
  const dir = tempDir('siegel-transfer-');
  const dataDir = path.join(dir, 'data');
  const blobDir = path.join(dataDir, 'files');
  const config = configSchema.parse({
    dataDir,
    trustAnchors: path.join(dir, 'anchors'),
    web: { publicUrl: options.publicUrl ?? 'https://dateien.stadt.example/' },
    largeFiles: { minFreeSpace: '1MB', ...options.largeFiles },
  });
  const clock = { now: START };
  const blobs = new LocalBlobStore({ directory: blobDir, minFreeSpace: config.largeFiles.minFreeSpace });
  const service = new SiegelTransferService({
    config,
    store: SqliteTransferStore.open(dataDir),
    blobs,
    logger: silentLogger(),
    now: () => clock.now,
    ...(options.notifier === undefined ? {} : { notifier: options.notifier }),
    ...(options.scanner === undefined ? {} : { scanner: options.scanner }),
  });
  const walk = (directory: string): string[] => {
    let names: string[];
    try {
      names = readdirSync(directory);
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      const full = path.join(directory, name);
      return statSync(full).isDirectory() ? walk(full) : [full];
    });
  };
  return {
    service,
    dir,
    dataDir,
    blobDir,
    blobs,
    clock,
    advance: (ms) => {
      clock.now = new Date(clock.now.getTime() + ms);
    },
    blobFiles: () => walk(blobDir),
    databaseBytes: () =>
      Buffer.concat(
        ['siegel.db', 'siegel.db-wal'].map((name) => {
          try {
            return readFileSync(path.join(dataDir, name));
          } catch {
            return Buffer.alloc(0);
          }
        }),
      ),
  };
}
