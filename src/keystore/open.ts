/**
 * Factories the CLI and the server use: the keystore (needs the master key)
 * and the bare identity store (listing needs no secret, so `siegel certs
 * list` works for monitoring without access to the master key).
 */
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import type { IdentityStore } from './identity-store.js';
import { Keystore, type Clock } from './keystore.js';
import { loadMasterKey, MASTER_KEY_ENV } from './master-key.js';
import { SqliteIdentityStore } from './sqlite-identity-store.js';

export function openIdentityStore(config: Pick<Config, 'dataDir'>, logger: Logger = createLogger('warn')): IdentityStore {
  return SqliteIdentityStore.open(config.dataDir, (message) => logger.warn(message));
}

/**
 * A configured master key is loaded first, so a bad key file fails before
 * the database is touched. Without one, the keystore still opens (a gateway
 * with no enrolled identity needs no key); sealing or opening a private key
 * then fails with the "no master key" message.
 */
export function openKeystore(config: Config, env: NodeJS.ProcessEnv, now: Clock, logger: Logger = createLogger('warn')): Keystore {
  const load = () => loadMasterKey(config, env, (message) => logger.warn(message));
  const configured = config.masterKeyFile !== undefined || (env[MASTER_KEY_ENV] ?? '') !== '';
  return new Keystore(openIdentityStore(config, logger), configured ? load() : load, now);
}
