/**
 * The master key that encrypts private keys at rest (DESIGN rule 8). It
 * comes from `masterKeyFile` in the config or from SIEGEL_MASTER_KEY, never
 * from both: two sources that could disagree would leave keys encrypted
 * under one unreadable under the other.
 */
import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { SiegelError } from '../errors.js';

export const MASTER_KEY_ENV = 'SIEGEL_MASTER_KEY';
/** 32 bytes: an AES-256 key's worth when random; a passphrase this long is at least not trivial. */
export const MIN_MASTER_KEY_LENGTH = 32;

/**
 * Holds the key material as a KeyObject so that logging, JSON or
 * util.inspect of a MasterKey never shows the bytes.
 */
export class MasterKey {
  readonly #secret: KeyObject;
  /** Short public identifier: tells "encrypted under another master key" apart from damage. */
  readonly id: Buffer;
  readonly source: string;

  constructor(bytes: Buffer, source: string) {
    if (bytes.length < MIN_MASTER_KEY_LENGTH) {
      throw new SiegelError(
        'CONFIG_INVALID',
        `master key from ${source} is ${bytes.length} bytes long; at least ${MIN_MASTER_KEY_LENGTH} are required (e.g. \`openssl rand -base64 48\`)`,
      );
    }
    this.#secret = createSecretKey(bytes);
    this.id = createHash('sha256').update('siegel master key id v1\0').update(bytes).digest().subarray(0, 8);
    this.source = source;
  }

  /** The secret as input keying material for HKDF; never exported. */
  material(): KeyObject {
    return this.#secret;
  }

  toJSON(): string {
    return `[MasterKey ${this.source}]`;
  }
}

export type MasterKeyWarning = (message: string) => void;

/** Loads the master key or throws CONFIG_INVALID saying how to provide one. */
export function loadMasterKey(config: Pick<Config, 'masterKeyFile'>, env: NodeJS.ProcessEnv, warn: MasterKeyWarning): MasterKey {
  const fromEnv = env[MASTER_KEY_ENV];
  const file = config.masterKeyFile;
  if (file !== undefined && fromEnv !== undefined && fromEnv !== '') {
    throw new SiegelError('CONFIG_INVALID', `both masterKeyFile (${file}) and ${MASTER_KEY_ENV} are set; set only one`);
  }
  if (file !== undefined) return new MasterKey(readKeyFile(file, warn), `file ${file}`);
  if (fromEnv !== undefined && fromEnv !== '') return new MasterKey(stripLineEnd(Buffer.from(fromEnv, 'utf8')), MASTER_KEY_ENV);
  throw new SiegelError(
    'CONFIG_INVALID',
    `no master key: set masterKeyFile in the config (a file with at least ${MIN_MASTER_KEY_LENGTH} random characters, mode 0600) or the environment variable ${MASTER_KEY_ENV}`,
  );
}

function readKeyFile(file: string, warn: MasterKeyWarning): Buffer {
  let bytes: Buffer;
  try {
    const mode = statSync(file).mode;
    if ((mode & 0o077) !== 0) {
      warn(`master key file ${file} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}; it should be readable by its owner only (chmod 600)`);
    }
    bytes = readFileSync(file);
  } catch (err) {
    throw new SiegelError('CONFIG_INVALID', `cannot read master key file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  return stripLineEnd(bytes);
}

/** Editors and `echo` add a line end; it is not part of the key. */
function stripLineEnd(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  return bytes.subarray(0, end);
}
