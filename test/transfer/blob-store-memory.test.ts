/**
 * DESIGN rule 7: writing and reading a 200 MB blob must not grow memory
 * with the file. The bound is generous (128 MB of RSS growth, well below the
 * 200 MB file: the garbage collector lags when the machine is busy); the point
 * is that nothing buffers the whole file, not speed.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { LocalBlobStore } from '../../src/transfer/local-blob-store.js';
import { newId, newKey, temporaryDirectory } from './blob-test-helpers.js';

const TOTAL = 200 * 1024 * 1024;
const CHUNK = 256 * 1024;

/** `total` (default 200 MB) varying bytes, produced on the fly, hashed as they go out. */
async function* generated(hash: ReturnType<typeof createHash>, total = TOTAL): AsyncGenerator<Buffer> {
  const seed = createHash('sha512').update('siegel').digest();
  for (let offset = 0; offset < total; offset += CHUNK) {
    const chunk = Buffer.alloc(CHUNK);
    for (let at = 0; at < CHUNK; at += seed.length) seed.copy(chunk, at);
    chunk.writeUInt32BE(offset / CHUNK, 0);
    hash.update(chunk);
    yield chunk;
  }
}

describe('LocalBlobStore memory', () => {
  it('writes, reads and resumes a 200 MB blob with flat memory', async () => {
    const directory = await temporaryDirectory('blobs-memory');
    try {
      const store = new LocalBlobStore({ directory: join(directory.path, 'files'), minFreeSpace: 0 });
      const key = newKey();
      const id = newId();
      // Warm-up: the first megabytes settle the allocator and GC (about 70 MB of RSS whatever the
      // size, seen with 50, 200 and 400 MB files); what must not happen is growth with the file.
      const warmUp = newId();
      await store.write(warmUp, key, generated(createHash('sha256'), 48 * 1024 * 1024), { maxBytes: TOTAL });
      for await (const _chunk of store.read(warmUp, key));
      await store.remove(warmUp);
      const before = process.memoryUsage().rss;
      let peak = before;
      const sample = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      try {
        const sent = createHash('sha256');
        const result = await store.write(id, key, generated(sent), { maxBytes: TOTAL });
        expect(result).toEqual({ size: TOTAL, sha256: sent.digest('hex') });
        const read = createHash('sha256');
        let bytes = 0;
        for await (const chunk of store.read(id, key)) {
          read.update(chunk as Buffer);
          bytes += (chunk as Buffer).length;
          peak = Math.max(peak, process.memoryUsage().rss);
        }
        expect(bytes).toBe(TOTAL);
        expect(read.digest('hex')).toBe(result.sha256);
        // Resuming re-reads the committed records once to rebuild the hash: also streamed.
        const unfinished = newId();
        const appender = await store.openAppender(unfinished, key);
        const again = createHash('sha256');
        await appender.append(generated(again), { maxBytes: TOTAL });
        const resumed = await new LocalBlobStore({ directory: join(directory.path, 'files'), minFreeSpace: 0 }).openAppender(unfinished, key);
        expect(resumed.offset).toBe(TOTAL);
        expect((await resumed.finish()).sha256).toBe(again.digest('hex'));
      } finally {
        clearInterval(sample);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      expect(peak - before).toBeLessThan(128 * 1024 * 1024);
    } finally {
      await directory.cleanup();
    }
  }, 300_000);
});
