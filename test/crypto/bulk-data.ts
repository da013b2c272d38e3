/** Inputs for the bulk crypto tests: deterministic bytes, cut into chunks as the pipeline hands them over. */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';

/** Deterministic, incompressible bytes (AES-CTR keystream of a fixed key): fast even for 32 MB. */
export function pseudoRandom(size: number, seed = 1): Buffer {
  const stream = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16));
  return Buffer.concat([stream.update(Buffer.alloc(size)), stream.final()]);
}

/** Offsets at which `size` bytes are cut: 1-byte chunks, empty chunks, seams around 1 MiB pieces, ragged rest. */
export function cuts(size: number): number[] {
  const wanted = [0, 0, 1, 2, 17, 4096, 65_536, 65_537, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 3, 2 * 1024 * 1024 + 5];
  for (let at = 3 * 1024 * 1024; at < size; at += 777_777) wanted.push(at);
  return [...wanted.filter((at) => at <= size), size];
}

export type Backing = 'plain' | 'shared' | 'mixed';

/**
 * `data` as a list of views cut at `offsets`: views into one ordinary
 * buffer, into one SharedArrayBuffer (both at an odd offset, so no view
 * starts at 0), or alternating between the two.
 */
export function chunked(data: Buffer, offsets: readonly number[], backing: Backing): Buffer[] {
  const plain = Buffer.alloc(data.length + 11);
  data.copy(plain, 7);
  const shared = Buffer.from(new SharedArrayBuffer(data.length + 29), 13, data.length);
  data.copy(shared);
  const chunks: Buffer[] = [];
  for (let i = 0; i + 1 < offsets.length; i++) {
    const start = offsets[i] as number;
    const end = offsets[i + 1] as number;
    const useShared = backing === 'shared' || (backing === 'mixed' && i % 2 === 1);
    chunks.push(useShared ? shared.subarray(start, end) : plain.subarray(7 + start, 7 + end));
  }
  return chunks;
}

export function referenceDigest(algorithm: string, data: Buffer): Buffer {
  return createHash(algorithm).update(data).digest();
}

export function referenceEncrypt(cipher: string, key: Buffer, iv: Buffer, data: Buffer, aad?: Buffer): { ciphertext: Buffer; tag?: Buffer } {
  if (cipher.endsWith('-gcm')) {
    const gcm = createCipheriv(cipher as 'aes-256-gcm', key, iv, { authTagLength: 16 });
    if (aad) gcm.setAAD(aad);
    const ciphertext = Buffer.concat([gcm.update(data), gcm.final()]);
    return { ciphertext, tag: gcm.getAuthTag() };
  }
  const cbc = createCipheriv(cipher, key, iv);
  return { ciphertext: Buffer.concat([cbc.update(data), cbc.final()]) };
}

export function referenceDecrypt(cipher: string, key: Buffer, iv: Buffer, data: Buffer, tag?: Buffer): Buffer {
  if (cipher.endsWith('-gcm')) {
    const gcm = createDecipheriv(cipher as 'aes-256-gcm', key, iv, { authTagLength: 16 });
    if (tag) gcm.setAuthTag(tag);
    return Buffer.concat([gcm.update(data), gcm.final()]);
  }
  const cbc = createDecipheriv(cipher, key, iv);
  return Buffer.concat([cbc.update(data), cbc.final()]);
}

export type Outcome = { readonly ok: Buffer } | { readonly error: { readonly name: string; readonly message: string; readonly code: unknown; readonly type: string } };

/** What a call returned or threw, comparable with toEqual. */
export async function outcome(run: () => Buffer | Promise<Buffer>): Promise<Outcome> {
  try {
    return { ok: await run() };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { error: { name: e.name, message: e.message, code: e.code, type: e.constructor.name } };
  }
}
