/**
 * Configuration loading: schema defaults -> YAML file -> SIEGEL_* environment.
 * Fails fast with the key path and the expected form of every bad key.
 *
 * Environment overrides: SIEGEL_<PATH> where nested keys are joined by "__"
 * and each key is written in SNAKE_CASE, e.g. SIEGEL_DATA_DIR=/var/lib/siegel
 * or SIEGEL_SMTP__SUBMISSION__LISTEN=0.0.0.0:587. Values are read as YAML
 * scalars or flow collections ("[a, b]"). SIEGEL_MASTER_KEY is a secret, not
 * a config key, and is read by the key store only; SIEGEL_CONFIG (which file
 * to load, set by the Docker image) and SIEGEL_P12_PASSPHRASE (enroll import)
 * are read by the CLI and are not config keys either.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ZodError } from 'zod';
import { SiegelError } from '../errors.js';
import { configSchema, type Config, type ListenerConfig } from './schema.js';

/**
 * SIEGEL_* variables that are not config keys: secrets, and what the CLI
 * reads itself. The schema is strict, so taking them as keys would reject
 * every config (e.g. under the Docker image, which sets SIEGEL_CONFIG).
 */
const nonConfigEnv = new Set(['SIEGEL_MASTER_KEY', 'SIEGEL_CONFIG', 'SIEGEL_P12_PASSPHRASE']);

export interface LoadOptions {
  /** Path of the YAML file (optional when `values` is given). */
  file?: string;
  /** Values to use instead of (or before) the file, e.g. the demo set-up. */
  values?: Record<string, unknown>;
  /** Base directory for relative paths when there is no file. */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(options: LoadOptions): Config {
  const env = options.env ?? process.env;
  let raw: Record<string, unknown> = { ...(options.values ?? {}) };
  let baseDir = options.baseDir ?? process.cwd();
  const source = options.file ?? 'built-in values';
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new SiegelError('CONFIG_INVALID', `cannot read config file ${options.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text) ?? {};
    } catch (err) {
      throw new SiegelError('CONFIG_INVALID', `config file ${options.file} is not valid YAML: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new SiegelError('CONFIG_INVALID', `config file ${options.file} must be a YAML mapping of keys`);
    }
    raw = deepMerge(raw, parsed as Record<string, unknown>);
    baseDir = path.dirname(path.resolve(options.file));
  }
  raw = deepMerge(raw, envOverrides(env));
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new SiegelError('CONFIG_INVALID', `invalid configuration (${source}):\n${formatIssues(result.error)}`);
  }
  return resolvePaths(result.data, baseDir);
}

export function formatIssues(error: ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      if (issue.code === 'unrecognized_keys') {
        return `  - ${where}: unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      }
      return `  - ${where}: ${issue.message}`;
    })
    .join('\n');
}

function snakeToCamel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SIEGEL_') || value === undefined || nonConfigEnv.has(name)) continue;
    const keys = name.slice('SIEGEL_'.length).split('__').map(snakeToCamel);
    let parsed: unknown;
    try {
      parsed = parseYaml(value);
    } catch {
      parsed = value;
    }
    let target = out;
    keys.forEach((key, index) => {
      if (index === keys.length - 1) {
        target[key] = parsed ?? value;
      } else {
        const next = target[key];
        target = (typeof next === 'object' && next !== null ? next : (target[key] = {})) as Record<string, unknown>;
      }
    });
  }
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    if (isPlainObject(current) && isPlainObject(value)) out[key] = deepMerge(current, value);
    else out[key] = value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resolvePaths(config: Config, baseDir: string): Config {
  const abs = (p: string) => path.resolve(baseDir, p);
  const dataDir = abs(config.dataDir);
  const listener = (l: ListenerConfig): ListenerConfig => ({
    ...l,
    relay: l.relay.startsWith('maildir:') ? `maildir:${path.resolve(dataDir, l.relay.slice('maildir:'.length))}` : l.relay,
    tls: l.tls ? { cert: abs(l.tls.cert), key: abs(l.tls.key) } : undefined,
    auth: { ...l.auth, credentialsFile: l.auth.credentialsFile ? abs(l.auth.credentialsFile) : undefined },
    nextHop: {
      ...l.nextHop,
      caFile: l.nextHop.caFile ? abs(l.nextHop.caFile) : undefined,
      passwordFile: l.nextHop.passwordFile ? abs(l.nextHop.passwordFile) : undefined,
    },
  });
  return {
    ...config,
    dataDir,
    trustAnchors: abs(config.trustAnchors),
    policies: abs(config.policies),
    masterKeyFile: config.masterKeyFile ? abs(config.masterKeyFile) : undefined,
    authservId: config.authservId ?? config.hostname ?? os.hostname(),
    ldap: { ...config.ldap, passwordFile: config.ldap.passwordFile ? abs(config.ldap.passwordFile) : undefined },
    largeFiles: { ...config.largeFiles, directory: config.largeFiles.directory ? abs(config.largeFiles.directory) : path.join(dataDir, 'files') },
    hostname: config.hostname ?? os.hostname(),
    smtp: { submission: listener(config.smtp.submission), inbound: listener(config.smtp.inbound) },
  };
}
