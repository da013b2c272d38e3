/**
 * Recipient certificates from the authorities' LDAP directories, for
 * recipients no verified mail taught us a certificate for. Servers are
 * tried in order; the first that answers decides. Answers are cached per
 * address (found for ldap.cacheTtl, not found for at most an hour, so a
 * certificate published today is used today). A directory that is down
 * never fails a message and is not remembered as "no certificate": the
 * recipient gets plain mail this time, with a warning, and the next
 * message asks again.
 */
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { errorMessage, SiegelError } from '../errors.js';
import type { EncryptionCertificate } from '../keystore/harvest.js';
import type { Logger } from '../log.js';
import type { EncryptionCertificateLookup } from '../pipeline/encryption-lookup.js';
import type { TrustAnchor } from '../pki/trust-store.js';
import { chooseDirectoryCertificate } from './directory-certificates.js';
import { checkFilterTemplate, filterFor, refusedAddress } from './ldap-filter.js';
import { searchDirectory } from './ldap-search.js';
import { DirectoryResultCache } from './result-cache.js';

/** Longest a "no certificate" answer is remembered. */
export const NOT_FOUND_TTL_MS = 3_600_000;

export interface DirectoryLookupOptions {
  readonly ldap: Config['ldap'];
  /** The configured trust anchors every directory certificate must chain to. */
  readonly anchors: readonly TrustAnchor[];
  readonly logger: Logger;
  /** Clock of the cache (the look-up's `at` is the validation time). */
  readonly now?: () => Date;
}

export interface DirectoryLookup {
  readonly lookup: EncryptionCertificateLookup;
  /** Waits for look-ups under way and forgets the cache. */
  close(): Promise<void>;
}

/** Throws SiegelError('CONFIG_INVALID') for a configuration that cannot work, before any mail depends on it. */
export function createDirectoryLookup(options: DirectoryLookupOptions): DirectoryLookup {
  const { ldap, anchors, logger } = options;
  const now = options.now ?? (() => new Date());
  checkConfig(ldap);
  const cache = new DirectoryResultCache();
  const underWay = new Map<string, Promise<EncryptionCertificate | undefined>>();

  async function bindCredentials(): Promise<{ dn: string; password: string } | undefined> {
    if (ldap.bindDn === undefined || ldap.passwordFile === undefined) return undefined;
    // Read per look-up so a rotated password needs no restart; the final newline is not part of it.
    const password = (await readFile(ldap.passwordFile, 'utf8')).replace(/\r?\n$/, '');
    return { dn: ldap.bindDn, password };
  }

  async function ask(address: string, at: Date): Promise<EncryptionCertificate | undefined> {
    const filter = filterFor(ldap.filter, address);
    const failures: string[] = [];
    let bind: { dn: string; password: string } | undefined;
    try {
      bind = await bindCredentials();
    } catch (err) {
      logger.warn({ address, passwordFile: ldap.passwordFile, error: errorMessage(err) }, 'directory look-up skipped: ldap.passwordFile cannot be read; the recipient gets no encryption this time');
      return undefined;
    }
    for (const server of ldap.servers) {
      let entries;
      try {
        entries = await searchDirectory(server, { baseDn: ldap.baseDn, filter, attribute: ldap.attribute, timeoutMs: ldap.timeout, ...(bind ? { bind } : {}) });
      } catch (err) {
        failures.push(`${server}: ${describeFailure(err)}`);
        continue;
      }
      if (failures.length > 0) logger.warn({ address, failures, answeredBy: server }, 'directory server failed, the next one answered');
      const { chosen, skipped } = chooseDirectoryCertificate(entries, address, anchors, at);
      for (const s of skipped) {
        logger.info({ address, server, dn: s.dn, ...(s.fingerprint ? { fingerprint: s.fingerprint } : {}), reason: s.reason }, 'directory certificate not used');
      }
      if (chosen) logger.info({ address, server, fingerprint: chosen.fingerprint, notAfter: chosen.notAfter.toISOString() }, 'directory certificate found');
      else logger.info({ address, server, entries: entries.length }, 'no usable certificate in the directory');
      cache.set(address, chosen, now(), chosen ? ldap.cacheTtl : Math.min(ldap.cacheTtl, NOT_FOUND_TTL_MS));
      return chosen;
    }
    logger.warn({ address, failures }, 'directory look-up failed: the recipient gets no encryption from the directory this time; the next message asks again');
    return undefined;
  }

  const lookup: EncryptionCertificateLookup = async (rawAddress, at) => {
    const address = rawAddress.trim().toLowerCase();
    const refused = refusedAddress(address);
    if (refused) {
      logger.warn({ address: JSON.stringify(rawAddress).slice(0, 400), reason: refused }, 'address not looked up in the directory');
      return undefined;
    }
    const hit = cache.get(address, now());
    if (hit) return hit.certificate;
    // The RCPT-time grouping and the encrypt stage may ask at once: one search serves both.
    let pending = underWay.get(address);
    if (!pending) {
      pending = ask(address, at).finally(() => underWay.delete(address));
      underWay.set(address, pending);
    }
    return pending;
  };

  return {
    lookup,
    async close() {
      await Promise.allSettled([...underWay.values()]);
      cache.clear();
    },
  };
}

/** ldapts errors carry the LDAP result in their name (InvalidCredentialsError) and a terse message ("Code: 0x31"). */
function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const message = err.message.trim();
  if (err.name === 'Error' || err.name === '') return message || 'error';
  return message ? `${err.name} (${message})` : err.name;
}

function checkConfig(ldap: Config['ldap']): void {
  const invalid = (detail: string) => new SiegelError('CONFIG_INVALID', detail);
  if (ldap.servers.length === 0) throw invalid('ldap.servers is empty: there is no directory to ask');
  for (const server of ldap.servers) {
    if (!/^ldaps?:\/\/[^/?#\s]+\/?$/i.test(server)) throw invalid(`ldap.servers: ${JSON.stringify(server)} is not ldap://host[:port] or ldaps://host[:port]`);
  }
  if (ldap.baseDn.trim() === '') throw invalid('ldap.baseDn must be set when ldap.servers is (e.g. o=Verwaltung,c=DE)');
  if (ldap.attribute.trim() === '') throw invalid('ldap.attribute is empty');
  if (ldap.bindDn !== undefined && ldap.passwordFile === undefined) throw invalid('ldap.bindDn is set but ldap.passwordFile is not');
  if (ldap.bindDn === undefined && ldap.passwordFile !== undefined) throw invalid('ldap.passwordFile is set but ldap.bindDn is not');
  checkFilterTemplate(ldap.filter);
}
