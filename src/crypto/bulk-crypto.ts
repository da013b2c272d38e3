/**
 * Hashing and symmetric encryption of message-sized data without stalling
 * the event loop: at or above BULK_THRESHOLD the work runs on the bulk pool's
 * worker threads (bulk-pool.ts), below it inline, because for a small
 * message the round trip to a worker costs more than the work itself.
 *
 * Results are byte-identical either way, and so are errors: a node:crypto
 * error in the worker is rethrown with the class, message and code the
 * inline call would have thrown. When no worker can do the job (the pool
 * could not start workers, or one died during the job) it is computed
 * inline: slower for the other connections, never a different result.
 */
import { createCipheriv, createDecipheriv, createHash, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { bulkPool } from './bulk-pool.js';
import { WorkerLost, type JobOutput } from './bulk-thread.js';
import type { BulkOperation } from './bulk-protocol.js';
import { totalLength } from './bulk-pieces.js';

/** Inputs of at least this many bytes go to a worker (25 MB: about 15 ms of SHA-256, 57 ms of AES-256-CBC inline). */
export const BULK_THRESHOLD = 512 * 1024;

export interface EncryptChunksOptions {
  /** For an authenticated cipher (GCM): the tag length in bytes; the result then carries the tag. */
  readonly authTagLength?: number;
  readonly aad?: Uint8Array;
}

export interface DecryptChunksOptions {
  /** For an authenticated cipher (GCM): the tag length, and the tag that final() checks. */
  readonly authTagLength?: number;
  readonly authTag?: Uint8Array;
  readonly aad?: Uint8Array;
}

export interface EncryptedChunks {
  /** The ciphertext in order, the last chunk being final()'s output. */
  readonly chunks: Buffer[];
  readonly tag?: Buffer;
}

/** The digest of the chunks as one message, e.g. digestChunks('sha256', entity). */
export async function digestChunks(algorithm: string, chunks: readonly Uint8Array[]): Promise<Buffer> {
  if (small(chunks)) return digestInline(algorithm, chunks);
  const operation: BulkOperation = { type: 'digest', algorithm };
  const output = await offload(operation, chunks);
  return output ? output.final : digestInline(algorithm, chunks);
}

export async function encryptChunks(cipher: string, key: Uint8Array, iv: Uint8Array, chunks: readonly Uint8Array[], options: EncryptChunksOptions = {}): Promise<EncryptedChunks> {
  if (small(chunks)) return encryptInline(cipher, key, iv, chunks, options);
  const operation: BulkOperation = { type: 'cipher', direction: 'encrypt', cipher, ...copied({ key, iv, ...options }) };
  const output = await offload(operation, chunks);
  if (!output) return encryptInline(cipher, key, iv, chunks, options);
  return { chunks: [...output.outputs, output.final], ...(output.tag ? { tag: output.tag } : {}) };
}

/** The plaintext in order, the last chunk being final()'s output; final() throws as node:crypto does (bad padding, bad tag). */
export async function decryptChunks(cipher: string, key: Uint8Array, iv: Uint8Array, chunks: readonly Uint8Array[], options: DecryptChunksOptions = {}): Promise<Buffer[]> {
  if (small(chunks)) return decryptInline(cipher, key, iv, chunks, options);
  const operation: BulkOperation = { type: 'cipher', direction: 'decrypt', cipher, ...copied({ key, iv, ...options }) };
  const output = await offload(operation, chunks);
  return output ? [...output.outputs, output.final] : decryptInline(cipher, key, iv, chunks, options);
}

function small(chunks: readonly Uint8Array[]): boolean {
  return totalLength(chunks) < BULK_THRESHOLD;
}

/**
 * Exact copies of the small byte fields: posting a view clones its whole
 * backing store, for a Buffer from Node's pool 8 KiB of unrelated bytes.
 */
function copied<T extends Record<string, Uint8Array | number | undefined>>(fields: T): T {
  const out: Record<string, Uint8Array | number | undefined> = {};
  for (const [name, value] of Object.entries(fields)) out[name] = value instanceof Uint8Array ? new Uint8Array(value) : value;
  return out as T;
}

/** The worker's result, or undefined when no worker could run the job (the caller then computes inline). */
async function offload(operation: BulkOperation, chunks: readonly Uint8Array[]): Promise<JobOutput | undefined> {
  const pool = bulkPool();
  if (!pool.available) return undefined;
  try {
    return await pool.run(operation, chunks);
  } catch (err) {
    if (err instanceof WorkerLost) return undefined;
    throw err;
  }
}

function digestInline(algorithm: string, chunks: readonly Uint8Array[]): Buffer {
  const hash = createHash(algorithm);
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest();
}

function encryptInline(cipher: string, key: Uint8Array, iv: Uint8Array, chunks: readonly Uint8Array[], options: EncryptChunksOptions): EncryptedChunks {
  const encrypting: CipherGCM = createCipheriv(cipher as 'aes-256-gcm', key, iv, tagOptions(options));
  if (options.aad) encrypting.setAAD(options.aad);
  const out = [...chunks.map((chunk) => encrypting.update(chunk)), encrypting.final()];
  return { chunks: out, ...(options.authTagLength !== undefined ? { tag: encrypting.getAuthTag() } : {}) };
}

function decryptInline(cipher: string, key: Uint8Array, iv: Uint8Array, chunks: readonly Uint8Array[], options: DecryptChunksOptions): Buffer[] {
  const decrypting: DecipherGCM = createDecipheriv(cipher as 'aes-256-gcm', key, iv, tagOptions(options));
  if (options.authTag) decrypting.setAuthTag(options.authTag);
  if (options.aad) decrypting.setAAD(options.aad);
  return [...chunks.map((chunk) => decrypting.update(chunk)), decrypting.final()];
}

function tagOptions(options: { readonly authTagLength?: number }): { authTagLength: number } | undefined {
  return options.authTagLength !== undefined ? { authTagLength: options.authTagLength } : undefined;
}
