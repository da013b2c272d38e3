/**
 * Opens the large-file exchange from the configuration: blobs in
 * largeFiles.directory (default <dataDir>/files), metadata in
 * <dataDir>/siegel.db, the clamd scanner when largeFiles.virusScan.clamd is
 * set. The CLI and `siegel serve` use the same factory, so both enforce the
 * same limits on the same data.
 */
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createClamdScanner, type VirusScanner } from './clamd.js';
import { LocalBlobStore } from './local-blob-store.js';
import { SiegelTransferService } from './service.js';
import { SqliteTransferStore } from './sqlite-transfer-store.js';
import type { Notifier, TransferService } from './types.js';

export interface OpenTransferOptions {
  readonly logger: Logger;
  readonly now: () => Date;
  /** Sends first-download notifications (the server's mail notifier); none in the CLI. */
  readonly notifier?: Notifier;
  /** Replaces the configured clamd scanner (tests). */
  readonly scanner?: VirusScanner;
}

/** largeFiles.directory as loadConfig resolves it; <dataDir>/files for a config parsed without loadConfig. */
export function blobDirectory(config: Pick<Config, 'dataDir' | 'largeFiles'>): string {
  return path.resolve(config.largeFiles.directory ?? path.join(config.dataDir, 'files'));
}

export function configuredScanner(config: Pick<Config, 'largeFiles'>): VirusScanner | undefined {
  const { clamd, timeout } = config.largeFiles.virusScan;
  return clamd === undefined || clamd.trim() === '' ? undefined : createClamdScanner(clamd, timeout);
}

export function openTransferService(config: Pick<Config, 'dataDir' | 'largeFiles' | 'web'>, options: OpenTransferOptions): TransferService {
  const scanner = options.scanner ?? configuredScanner(config);
  const blobs = new LocalBlobStore({ directory: blobDirectory(config), minFreeSpace: config.largeFiles.minFreeSpace });
  const store = SqliteTransferStore.open(config.dataDir, (message) => options.logger.warn(message));
  return new SiegelTransferService({
    config,
    store,
    blobs,
    logger: options.logger,
    now: options.now,
    ...(options.notifier === undefined ? {} : { notifier: options.notifier }),
    ...(scanner === undefined ? {} : { scanner }),
  });
}
