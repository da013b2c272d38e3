/**
 * The bulk crypto functions give exactly what node:crypto gives inline, on
 * either side of the threshold, for chunk lists with seams anywhere (1-byte
 * chunks, empty ones, seams at the pool's piece boundaries), backed by
 * ordinary buffers, by a SharedArrayBuffer (views at odd offsets) or both;
 * and they fail exactly as node:crypto fails. A worker that dies mid-job
 * costs the job nothing (it is computed inline) and is replaced.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BULK_THRESHOLD, decryptChunks, digestChunks, encryptChunks } from '../../src/crypto/bulk-crypto.js';
import { BulkPool, bulkPool, closeBulkPool } from '../../src/crypto/bulk-pool.js';
import { WorkerLost } from '../../src/crypto/bulk-thread.js';
import { chunked, cuts, outcome, pseudoRandom, referenceDecrypt, referenceDigest, referenceEncrypt, type Backing } from './bulk-data.js';

const KEY = Buffer.alloc(32, 0x42);
const IV = Buffer.alloc(16, 0x17);
const NONCE = Buffer.alloc(12, 0x09);
const SIZES = [1000, BULK_THRESHOLD - 1, BULK_THRESHOLD, BULK_THRESHOLD + 1, 3 * 1024 * 1024 + 4321];
const BACKINGS: readonly Backing[] = ['plain', 'shared', 'mixed'];

afterAll(async () => {
  await closeBulkPool();
});

describe('results are those of node:crypto inline', () => {
  const cases = SIZES.flatMap((size) => BACKINGS.map((backing) => [size, backing] as const));

  it.each(cases)('%d bytes, %s chunks: SHA-256, SHA-384 and SHA-1 digests', async (size, backing) => {
    const data = pseudoRandom(size);
    const chunks = chunked(data, cuts(size), backing);
    for (const algorithm of ['sha256', 'sha384', 'sha1']) {
      expect((await digestChunks(algorithm, chunks)).equals(referenceDigest(algorithm, data))).toBe(true);
    }
  });

  it.each(cases)('%d bytes, %s chunks: AES-256-CBC encrypts and decrypts', async (size, backing) => {
    const data = pseudoRandom(size, 2);
    const encrypted = await encryptChunks('aes-256-cbc', KEY, IV, chunked(data, cuts(size), backing));
    const ciphertext = Buffer.concat(encrypted.chunks);
    expect(ciphertext.equals(referenceEncrypt('aes-256-cbc', KEY, IV, data).ciphertext)).toBe(true);
    expect(encrypted.tag).toBeUndefined();
    const decrypted = Buffer.concat(await decryptChunks('aes-256-cbc', KEY, IV, chunked(ciphertext, cuts(ciphertext.length), backing)));
    expect(decrypted.equals(data)).toBe(true);
  });

  it.each(cases)('%d bytes, %s chunks: AES-256-GCM with additional data encrypts, tags and decrypts', async (size, backing) => {
    const data = pseudoRandom(size, 3);
    const aad = Buffer.from('1\x0bauthAttrs');
    const encrypted = await encryptChunks('aes-256-gcm', KEY, NONCE, chunked(data, cuts(size), backing), { authTagLength: 16, aad });
    const reference = referenceEncrypt('aes-256-gcm', KEY, NONCE, data, aad);
    const ciphertext = Buffer.concat(encrypted.chunks);
    expect(ciphertext.equals(reference.ciphertext)).toBe(true);
    expect(encrypted.tag?.equals(reference.tag as Buffer)).toBe(true);
    const decrypted = await decryptChunks('aes-256-gcm', KEY, NONCE, chunked(ciphertext, cuts(ciphertext.length), backing), {
      authTagLength: 16,
      authTag: encrypted.tag as Buffer,
      aad,
    });
    expect(Buffer.concat(decrypted).equals(data)).toBe(true);
  });

  it('an input of many tiny chunks (one per byte for 600 KiB) hashes and encrypts like one buffer', async () => {
    const data = pseudoRandom(600 * 1024, 4);
    const chunks = [...data].map((_, i) => data.subarray(i, i + 1));
    expect((await digestChunks('sha256', chunks)).equals(referenceDigest('sha256', data))).toBe(true);
    expect(Buffer.concat((await encryptChunks('aes-256-cbc', KEY, IV, chunks)).chunks).equals(referenceEncrypt('aes-256-cbc', KEY, IV, data).ciphertext)).toBe(true);
  });

  it('large inputs really run on the pool', async () => {
    await closeBulkPool();
    await digestChunks('sha256', [pseudoRandom(BULK_THRESHOLD - 1)]);
    expect(bulkPool().stats).toEqual({ workers: 0, completed: 0, lost: 0 });
    await digestChunks('sha256', [pseudoRandom(BULK_THRESHOLD)]);
    expect(bulkPool().stats).toEqual({ workers: 1, completed: 1, lost: 0 });
  });

  it('ends a worker that stayed idle, and starts a new one for the next job', async () => {
    const pool = new BulkPool(1, { idleMs: 200 });
    try {
      const data = pseudoRandom(BULK_THRESHOLD, 6);
      const first = await pool.run({ type: 'digest', algorithm: 'sha256' }, [data]);
      expect(first.final.equals(referenceDigest('sha256', data))).toBe(true);
      expect(pool.stats.workers).toBe(1);
      const deadline = Date.now() + 10_000;
      while (pool.stats.workers > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(pool.stats).toEqual({ workers: 0, completed: 1, lost: 0 });
      const second = await pool.run({ type: 'digest', algorithm: 'sha256' }, [data]);
      expect(second.final.equals(first.final)).toBe(true);
      expect(pool.stats).toEqual({ workers: 1, completed: 2, lost: 0 });
    } finally {
      await pool.close();
    }
  });

  it('the input is left as it was (copies are posted, shared memory is only read)', async () => {
    const data = pseudoRandom(2 * 1024 * 1024, 5);
    const chunks = chunked(data, cuts(data.length), 'mixed');
    await encryptChunks('aes-256-gcm', KEY, NONCE, chunks, { authTagLength: 16 });
    await digestChunks('sha256', chunks);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });
});

describe('errors are those node:crypto throws inline', () => {
  const large = pseudoRandom(BULK_THRESHOLD + 100, 6);

  it('an unknown digest', async () => {
    const pooled = await outcome(() => digestChunks('sha-999', [large]));
    const inline = await outcome(() => createHash('sha-999').update(large).digest());
    expect('error' in pooled).toBe(true);
    expect(pooled).toEqual(inline);
  });

  it('a key of the wrong length', async () => {
    const pooled = await outcome(async () => Buffer.concat((await encryptChunks('aes-256-cbc', KEY.subarray(0, 31), IV, [large])).chunks));
    const inline = await outcome(() => createCipheriv('aes-256-cbc', KEY.subarray(0, 31), IV).update(large));
    expect('error' in pooled).toBe(true);
    expect(pooled).toEqual(inline);
  });

  it('a GCM tag that does not match', async () => {
    const { ciphertext, tag } = referenceEncrypt('aes-256-gcm', KEY, NONCE, large);
    const wrongTag = Buffer.from(tag as Buffer);
    wrongTag[0] = (wrongTag[0] as number) ^ 1;
    const pooled = await outcome(async () => Buffer.concat(await decryptChunks('aes-256-gcm', KEY, NONCE, [ciphertext], { authTagLength: 16, authTag: wrongTag })));
    const inline = await outcome(() => referenceDecrypt('aes-256-gcm', KEY, NONCE, ciphertext, wrongTag));
    expect('error' in pooled).toBe(true);
    expect(pooled).toEqual(inline);
  });

  it('CBC with the wrong key (padding check)', async () => {
    const { ciphertext } = referenceEncrypt('aes-256-cbc', KEY, IV, large);
    const wrongKey = Buffer.alloc(32, 0x43);
    const pooled = await outcome(async () => Buffer.concat(await decryptChunks('aes-256-cbc', wrongKey, IV, [ciphertext])));
    const inline = await outcome(() => {
      const decipher = createDecipheriv('aes-256-cbc', wrongKey, IV);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    });
    expect(pooled).toEqual(inline);
  });

  it('after a failed job the worker serves the next one', async () => {
    await expect(digestChunks('sha-999', [large])).rejects.toThrow();
    expect((await digestChunks('sha256', [large])).equals(referenceDigest('sha256', large))).toBe(true);
  });
});

describe('workers that die', () => {
  it('a job whose worker is killed mid-way still gives the right result, and a new worker takes the next job', async () => {
    const data = pseudoRandom(24 * 1024 * 1024, 7);
    const reference = referenceEncrypt('aes-256-cbc', KEY, IV, data).ciphertext;
    await digestChunks('sha256', [data.subarray(0, BULK_THRESHOLD)]); // a worker is up and online
    const before = bulkPool().stats;
    const running = encryptChunks('aes-256-cbc', KEY, IV, [data]);
    await new Promise((resolve) => setImmediate(resolve));
    await bulkPool().killWorkers();
    expect(Buffer.concat((await running).chunks).equals(reference)).toBe(true);
    expect(bulkPool().stats).toEqual({ workers: 0, completed: before.completed, lost: before.lost + 1 });
    expect(bulkPool().available).toBe(true);
    expect((await digestChunks('sha256', [data])).equals(referenceDigest('sha256', data))).toBe(true);
    expect(bulkPool().stats).toEqual({ workers: 1, completed: before.completed + 1, lost: before.lost + 1 });
  });

  it('more jobs than workers at once all complete, in any order', async () => {
    const inputs = [1, 2, 3, 4, 5].map((seed) => pseudoRandom(BULK_THRESHOLD + seed * 100_000, seed));
    const results = await Promise.all(inputs.map((input) => digestChunks('sha256', [input])));
    results.forEach((digest, i) => expect(digest.equals(referenceDigest('sha256', inputs[i] as Buffer))).toBe(true));
  });

  it('after the pool is closed, a new job starts a new one', async () => {
    await closeBulkPool();
    const data = pseudoRandom(BULK_THRESHOLD * 2, 8);
    expect((await digestChunks('sha256', [data])).equals(referenceDigest('sha256', data))).toBe(true);
  });

  it('switches itself off when its workers cannot even load, and releases every job waiting for one', async () => {
    // A worker module that throws while loading: Node still reports the thread 'online', the pool must not believe it.
    const dir = mkdtempSync(path.join(tmpdir(), 'siegel-bulk-broken-'));
    const broken = path.join(dir, 'broken-worker.mjs');
    writeFileSync(broken, "throw new Error('this worker cannot load');\n");
    const pool = new BulkPool(1, { workerFile: pathToFileURL(broken) });
    try {
      const data = pseudoRandom(BULK_THRESHOLD, 10);
      // Five jobs for one worker slot: each that gets a worker loses it; once the pool is off, the rest get none.
      const settled = await Promise.allSettled([1, 2, 3, 4, 5].map(() => pool.run({ type: 'digest', algorithm: 'sha256' }, [data])));
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
      expect(settled.every((s) => s.status === 'rejected' && s.reason instanceof WorkerLost)).toBe(true);
      expect(pool.available).toBe(false);
      expect(pool.stats.workers).toBe(0);
    } finally {
      await pool.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closing waits for a running job, which completes', async () => {
    const data = pseudoRandom(8 * 1024 * 1024, 9);
    const running = digestChunks('sha256', [data]);
    await new Promise((resolve) => setImmediate(resolve));
    await closeBulkPool();
    expect((await running).equals(referenceDigest('sha256', data))).toBe(true);
  });
});
