/**
 * The conformance suite every BlobStore implementation must pass (DESIGN
 * rule 6): the local directory store now, object storage later.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { SiegelError } from '../../src/errors.js';
import type { BlobStore } from '../../src/transfer/blob-store.js';
import { chunked, collect, failingStream, newId, newKey, readAll, sha256 } from './blob-test-helpers.js';

export interface BlobStoreFixture {
  /** A store over the same storage as every other store of this fixture (a second instance simulates a restart). */
  readonly open: () => BlobStore;
  /** Plaintext bytes per record. */
  readonly recordSize: number;
}

const UNLIMITED = { maxBytes: Number.MAX_SAFE_INTEGER };

function codeOf(error: unknown): string | undefined {
  return error instanceof SiegelError ? error.code : undefined;
}

export function describeBlobStoreConformance(name: string, setUp: (recordSize: number) => Promise<BlobStoreFixture & { readonly cleanup: () => Promise<void> }>, recordSize: number): void {
  describe(`BlobStore conformance: ${name} (records of ${recordSize} bytes)`, () => {
    let fixture: BlobStoreFixture & { readonly cleanup: () => Promise<void> };
    let store: BlobStore;
    const R = recordSize;

    beforeEach(async () => {
      fixture = await setUp(recordSize);
      store = fixture.open();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it.each([
      ['empty', 0],
      ['one byte', 1],
      ['one record less one byte', R - 1],
      ['exactly one record', R],
      ['one record and one byte', R + 1],
      ['five records and seven bytes', 5 * R + 7],
    ])('round-trips %s (%i bytes) with size and SHA-256', async (_label, size) => {
      const plaintext = randomBytes(size);
      const id = newId();
      const key = newKey();
      const result = await store.write(id, key, chunked(plaintext, [1, 777, R, 3]), UNLIMITED);
      expect(result).toEqual({ size, sha256: sha256(plaintext) });
      expect(await store.exists(id)).toBe(true);
      expect((await readAll(store.read(id, key))).equals(plaintext)).toBe(true);
      expect((await readAll(fixture.open().read(id, key))).equals(plaintext)).toBe(true);
    });

    it('returns exactly the requested bytes for random sizes, chunkings and ranges', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 12 * R }),
          fc.array(fc.integer({ min: 1, max: 3 * R }), { minLength: 1, maxLength: 5 }),
          fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 6 }),
          async (size, chunkSizes, fractions) => {
            const plaintext = randomBytes(size);
            const id = newId();
            const key = newKey();
            await store.write(id, key, chunked(plaintext, chunkSizes), UNLIMITED);
            for (const [a, b] of fractions) {
              const start = Math.min(size - 1, Math.floor(Math.min(a, b) * size));
              const end = Math.min(size - 1, Math.floor(Math.max(a, b) * size));
              const range = await readAll(store.read(id, key, { start, end }));
              expect(range.equals(plaintext.subarray(start, end + 1))).toBe(true);
            }
            await store.remove(id);
          },
        ),
        { numRuns: 40 },
      );
    });

    it('reads single bytes at record borders', async () => {
      const plaintext = randomBytes(3 * R + 5);
      const id = newId();
      const key = newKey();
      await store.write(id, key, chunked(plaintext), UNLIMITED);
      for (const at of [0, R - 1, R, 2 * R - 1, 2 * R, 3 * R, plaintext.length - 1]) {
        expect((await readAll(store.read(id, key, { start: at, end: at }))).equals(plaintext.subarray(at, at + 1))).toBe(true);
      }
    });

    it('refuses ranges outside the blob and unknown ids, as stream errors', async () => {
      const id = newId();
      const key = newKey();
      await store.write(id, key, chunked(randomBytes(10)), UNLIMITED);
      for (const range of [{ start: 0, end: 10 }, { start: 5, end: 4 }, { start: -1, end: 3 }, { start: 0.5, end: 3 }]) {
        const result = await collect(store.read(id, key, range));
        expect(codeOf(result.error)).toBe('INTERNAL');
        expect(result.data.length).toBe(0);
      }
      const unknown = await collect(store.read(newId(), key));
      expect(codeOf(unknown.error)).toBe('NOT_FOUND');
      expect(await store.exists(newId())).toBe(false);
    });

    it('fails with a wrong key before emitting any byte', async () => {
      const id = newId();
      await store.write(id, newKey(), chunked(randomBytes(3 * R)), UNLIMITED);
      const result = await collect(store.read(id, newKey()));
      expect(codeOf(result.error)).toBe('DECRYPTION_FAILED');
      expect(result.data.length).toBe(0);
      await expect(store.openAppender(id, newKey())).rejects.toThrow(SiegelError);
    });

    it('refuses to overwrite a blob', async () => {
      const id = newId();
      const key = newKey();
      const original = randomBytes(100);
      await store.write(id, key, chunked(original), UNLIMITED);
      await expect(store.write(id, key, chunked(randomBytes(100)), UNLIMITED)).rejects.toThrow(SiegelError);
      expect((await readAll(store.read(id, key))).equals(original)).toBe(true);
    });

    it('refuses content above maxBytes and keeps nothing', async () => {
      const id = newId();
      const error = await store.write(id, newKey(), chunked(randomBytes(2 * R + 1)), { maxBytes: 2 * R }).catch((caught: unknown) => caught);
      expect(codeOf(error)).toBe('FILE_TOO_LARGE');
      expect(await store.exists(id)).toBe(false);
      const exact = await store.write(id, newKey(), chunked(randomBytes(2 * R)), { maxBytes: 2 * R });
      expect(exact.size).toBe(2 * R);
    });

    it('passes a failing input on and keeps nothing', async () => {
      const id = newId();
      await expect(store.write(id, newKey(), failingStream(randomBytes(4 * R), 2 * R + 3), UNLIMITED)).rejects.toThrow('connection dropped');
      expect(await store.exists(id)).toBe(false);
    });

    it('removes blobs, and removing twice is fine', async () => {
      const id = newId();
      const key = newKey();
      await store.write(id, key, chunked(randomBytes(10)), UNLIMITED);
      await store.remove(id);
      await store.remove(id);
      expect(await store.exists(id)).toBe(false);
      expect(codeOf((await collect(store.read(id, key))).error)).toBe('NOT_FOUND');
    });

    it('appends in pieces across restarts and seals the whole plaintext', async () => {
      const plaintext = randomBytes(7 * R + 11);
      const id = newId();
      const key = newKey();
      const cuts = [0, 1, R - 1, R + 5, 3 * R, 3 * R, 5 * R + 2, plaintext.length];
      for (let piece = 0; piece + 1 < cuts.length; piece += 1) {
        // A new store each time: nothing may survive in memory only.
        const appender = await fixture.open().openAppender(id, key);
        expect(appender.offset).toBe(cuts[piece]);
        expect(await store.exists(id)).toBe(false);
        const offset = await appender.append(chunked(plaintext.subarray(cuts[piece], cuts[piece + 1]), [R / 2 + 1]), UNLIMITED);
        expect(offset).toBe(cuts[piece + 1]);
      }
      const appender = await store.openAppender(id, key);
      expect(appender.offset).toBe(plaintext.length);
      expect(await appender.finish()).toEqual({ size: plaintext.length, sha256: sha256(plaintext) });
      expect((await readAll(store.read(id, key))).equals(plaintext)).toBe(true);
      await expect(store.openAppender(id, key)).rejects.toThrow(SiegelError);
    });

    it('keeps appending with one appender and finishes an empty blob', async () => {
      const plaintext = randomBytes(2 * R + 3);
      const id = newId();
      const key = newKey();
      const appender = await store.openAppender(id, key);
      expect(await appender.append(chunked(plaintext.subarray(0, R + 1)), UNLIMITED)).toBe(R + 1);
      expect(await appender.append(chunked(plaintext.subarray(R + 1)), UNLIMITED)).toBe(plaintext.length);
      expect((await appender.finish()).sha256).toBe(sha256(plaintext));
      const empty = await store.openAppender(newId(), key);
      expect(await empty.finish()).toEqual({ size: 0, sha256: sha256(Buffer.alloc(0)) });
    });

    it('resumes after the input dropped mid-stream: offset is what was stored, the rest completes the file', async () => {
      const plaintext = randomBytes(6 * R + 123);
      const id = newId();
      const key = newKey();
      const dropAt = 3 * R + 17;
      const first = await store.openAppender(id, key);
      await expect(first.append(failingStream(plaintext, dropAt, 700), UNLIMITED)).rejects.toThrow('connection dropped');
      // The process "crashes": only a new store instance remains.
      const resumed = await fixture.open().openAppender(id, key);
      expect(resumed.offset).toBeLessThanOrEqual(dropAt);
      expect(resumed.offset).toBeGreaterThan(0);
      await resumed.append(chunked(plaintext.subarray(resumed.offset)), UNLIMITED);
      expect(await resumed.finish()).toEqual({ size: plaintext.length, sha256: sha256(plaintext) });
      expect((await readAll(store.read(id, key))).equals(plaintext)).toBe(true);
    });

    it('refuses an unfinished blob to a wrong key', async () => {
      const id = newId();
      const appender = await store.openAppender(id, newKey());
      await appender.append(chunked(randomBytes(R + 2)), UNLIMITED);
      const error = await fixture.open().openAppender(id, newKey()).catch((caught: unknown) => caught);
      expect(codeOf(error)).toBe('DECRYPTION_FAILED');
      const sameStore = await store.openAppender(id, newKey()).catch((caught: unknown) => caught);
      expect(codeOf(sameStore)).toBe('DECRYPTION_FAILED');
    });

    it('rejects an append beyond maxBytes and keeps the blob as it was', async () => {
      const plaintext = randomBytes(3 * R);
      const id = newId();
      const key = newKey();
      const appender = await store.openAppender(id, key);
      await appender.append(chunked(plaintext.subarray(0, R + 1)), { maxBytes: 3 * R });
      const error = await appender.append(chunked(randomBytes(2 * R)), { maxBytes: 3 * R }).catch((caught: unknown) => caught);
      expect(codeOf(error)).toBe('FILE_TOO_LARGE');
      expect(appender.offset).toBe(R + 1);
      expect((await fixture.open().openAppender(id, key)).offset).toBe(R + 1);
      await appender.append(chunked(plaintext.subarray(R + 1)), { maxBytes: 3 * R });
      expect((await appender.finish()).sha256).toBe(sha256(plaintext));
    });

    it('drops an aborted blob', async () => {
      const id = newId();
      const key = newKey();
      const appender = await store.openAppender(id, key);
      await appender.append(chunked(randomBytes(R + 9)), UNLIMITED);
      await appender.abort();
      expect(await store.exists(id)).toBe(false);
      expect((await store.openAppender(id, key)).offset).toBe(0);
      await expect(appender.append(chunked(randomBytes(3)), UNLIMITED)).rejects.toThrow(SiegelError);
    });
  });
}
