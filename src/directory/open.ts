/**
 * The directory look-up of a configuration, or undefined when no
 * directory is configured (ldap.servers empty). Loads the trust anchors
 * itself unless the caller already has them (`siegel serve` does).
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { loadConfiguredAnchors } from '../pki/configured-anchors.js';
import type { TrustAnchor } from '../pki/trust-store.js';
import { createDirectoryLookup, type DirectoryLookup } from './directory-lookup.js';

export function openDirectoryLookup(
  config: Pick<Config, 'ldap' | 'trustAnchors'>,
  options: { readonly logger: Logger; readonly now?: () => Date; readonly anchors?: readonly TrustAnchor[] },
): DirectoryLookup | undefined {
  if (config.ldap.servers.length === 0) return undefined;
  const anchors = options.anchors ?? loadConfiguredAnchors(config, options.logger);
  return createDirectoryLookup({ ldap: config.ldap, anchors, logger: options.logger, ...(options.now ? { now: options.now } : {}) });
}
