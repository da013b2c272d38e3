/**
 * The trust anchors of a configuration (`trustAnchors`, a directory), loaded
 * once per process with a log line per skipped file, so an administrator
 * sees at start-up why a root dropped in there is not used.
 */
import { existsSync, statSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { SiegelError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadTrustStore, type TrustAnchor } from './trust-store.js';

export function loadConfiguredAnchors(config: Pick<Config, 'trustAnchors'>, logger: Logger): readonly TrustAnchor[] {
  const directory = config.trustAnchors;
  if (!existsSync(directory) || !statSync(directory).isDirectory()) {
    throw new SiegelError('CONFIG_INVALID', `trustAnchors: ${directory} is not a directory (put the CA certificates to trust there, see certs/README.md)`);
  }
  const store = loadTrustStore(directory);
  for (const skipped of store.skipped) logger.warn({ file: skipped.file, reason: skipped.reason }, 'trust anchor skipped');
  if (store.anchors.length === 0) logger.warn({ directory }, 'no trust anchors: no inbound signature can pass');
  return store.anchors;
}
