/**
 * Factories the CLI and the server use: the keystore (needs the master key)
 * and the bare identity store (listing needs no secret, so `siegel certs
 * list` works for monitoring without access to the master key).
 */
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import type { IdentityStore } from './identity-store.js';
import { Keystore, type Clock } from './keystore.js';
import { loadMasterKey } from './master-key.js';
import { SqliteIdentityStore } from './sqlite-identity-store.js';

export function openIdentityStore(config: Pick<Config, 'dataDir'>, logger: Logger = createLogger('warn')): IdentityStore {
  return SqliteIdentityStore.open(config.dataDir, (message) => logger.warn(message));
}

/** Loads the master key first, so a missing key fails before the database is touched. */
export function openKeystore(config: Config, env: NodeJS.ProcessEnv, now: Clock, logger: Logger = createLogger('warn')): Keystore {
  const masterKey = loadMasterKey(config, env, (message) => logger.warn(message));
  return new Keystore(openIdentityStore(config, logger), masterKey, now);
}
