/**
 * SMTP AUTH credentials: a file of `user:$scrypt$N=16384,r=8,p=1$<salt>$<hash>`
 * lines (salt and hash base64), written by `siegel passwd`. Passwords are
 * checked with scrypt (async, off the event loop) and compared in constant
 * time; an unknown user costs the same scrypt so that response times do not
 * reveal which users exist. The file is re-read when it changes, so users
 * can be added or revoked while the gateway runs.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { SiegelError } from '../errors.js';
import type { Logger } from '../log.js';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const defaultScryptParams: ScryptParams = { N: 16384, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
// Bounds for parameters read from the file: a bad line must not be able to
// make one login allocate gigabytes or spin for minutes.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

interface ParsedHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function scryptAsync(password: string, salt: Buffer, length: number, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const maxmem = Math.max(32 * 1024 * 1024, 256 * params.N * params.r);
    scrypt(password, salt, length, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a password into the `$scrypt$...` form of the credentials file. */
export async function hashPassword(password: string, params: ScryptParams = defaultScryptParams): Promise<string> {
  if (!validParams(params)) throw new SiegelError('CONFIG_INVALID', 'scrypt parameters out of range');
  const salt = randomBytes(SALT_LENGTH);
  const hash = await scryptAsync(password, salt, KEY_LENGTH, params);
  return `$scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** True when the password matches an encoded `$scrypt$...` hash; false for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (!parsed) return false;
  const derived = await scryptAsync(password, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(derived, parsed.hash);
}

function validParams(params: ScryptParams): boolean {
  const { N, r, p } = params;
  return Number.isInteger(N) && N >= 2 && N <= MAX_N && (N & (N - 1)) === 0 && Number.isInteger(r) && r >= 1 && r <= MAX_R && Number.isInteger(p) && p >= 1 && p <= MAX_P;
}

function parseHash(encoded: string): ParsedHash | undefined {
  const match = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/.exec(encoded.trim());
  if (!match) return undefined;
  const params = { N: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  const salt = Buffer.from(match[4] ?? '', 'base64');
  const hash = Buffer.from(match[5] ?? '', 'base64');
  if (!validParams(params) || salt.length < 8 || salt.length > 64 || hash.length < 16 || hash.length > 64) return undefined;
  return { params, salt, hash };
}

/** Why a user name cannot go into the credentials file, or undefined when it can. */
export function invalidUserName(user: string): string | undefined {
  if (user.length === 0) return 'the user name is empty';
  if (user.length > 256) return 'the user name is longer than 256 characters';
  // ':' separates the fields; whitespace and control characters would not survive SMTP AUTH.
  if (/[:\s\p{Cc}]/u.test(user)) return 'the user name must not contain ":", whitespace or control characters';
  return undefined;
}

/** One line of the credentials file (without the newline). */
export function credentialsLine(user: string, encodedHash: string): string {
  const problem = invalidUserName(user);
  if (problem) throw new SiegelError('CONFIG_INVALID', problem);
  return `${user}:${encodedHash}`;
}

export interface CredentialStore {
  /** Reads the file now; fails when it cannot be read (for a fail-fast start). */
  load(): Promise<void>;
  /** True when user and password match a line of the file. */
  verify(user: string, password: string): Promise<boolean>;
}

// Used for unknown users so that they cost one scrypt like known ones.
const dummySalt = randomBytes(SALT_LENGTH);

export function createCredentialStore(file: string, logger: Logger): CredentialStore {
  let entries = new Map<string, ParsedHash>();
  let version: string | undefined;
  let pending: Promise<void> | undefined;

  async function read(): Promise<void> {
    let info;
    try {
      info = await stat(file);
    } catch (err) {
      // A removed file means "no users" (revocation), not "keep the old ones".
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        if (version !== 'missing') logger.warn({ file }, 'credentials file missing: no SMTP AUTH user can log in');
        entries = new Map();
        version = 'missing';
        return;
      }
      throw err;
    }
    const next = `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    if (next === version) return;
    const text = await readFile(file, 'utf8');
    entries = parseFile(text, file, logger);
    version = next;
    logger.info({ file, users: entries.size }, 'credentials loaded');
  }

  function refresh(): Promise<void> {
    // Concurrent logins share one stat/read.
    pending ??= read().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  return {
    async load() {
      try {
        await refresh();
      } catch (err) {
        throw new SiegelError('CONFIG_INVALID', `cannot read credentials file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
      }
    },
    async verify(user, password) {
      try {
        await refresh();
      } catch (err) {
        // Keep the users loaded before: a transient read error must not lock everyone out.
        logger.error({ file, error: (err as NodeJS.ErrnoException).code ?? String(err) }, 'cannot re-read credentials file, keeping the previous users');
      }
      const entry = entries.get(user);
      if (!entry) {
        await scryptAsync(password, dummySalt, KEY_LENGTH, defaultScryptParams);
        return false;
      }
      const derived = await scryptAsync(password, entry.salt, entry.hash.length, entry.params);
      return timingSafeEqual(derived, entry.hash);
    },
  };
}

function parseFile(text: string, file: string, logger: Logger): Map<string, ParsedHash> {
  const out = new Map<string, ParsedHash>();
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = colon > 0 ? line.slice(0, colon) : '';
    const parsed = colon > 0 ? parseHash(line.slice(colon + 1)) : undefined;
    // Only the line number is logged: the line holds a password hash.
    if (!parsed || invalidUserName(user)) {
      logger.warn({ file, line: index + 1 }, 'credentials file: ignoring malformed line');
      return;
    }
    if (out.has(user)) {
      logger.warn({ file, line: index + 1 }, 'credentials file: ignoring repeated user, the first line wins');
      return;
    }
    out.set(user, parsed);
  });
  return out;
}
