import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, stat, writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { SiegelError } from '../../src/errors.js';
import { DEFAULT_RECORD_SIZE, HEADER_SIZE, TAG_SIZE } from '../../src/transfer/file-crypto.js';
import { LocalBlobStore, type LocalBlobStoreOptions } from '../../src/transfer/local-blob-store.js';
import { LocalBlobPaths } from '../../src/transfer/local-blob-paths.js';
import { describeBlobStoreConformance } from './blob-store-conformance.js';
import { chunked, collect, newId, newKey, readAll, sha256, temporaryDirectory } from './blob-test-helpers.js';

const UNLIMITED = { maxBytes: Number.MAX_SAFE_INTEGER };
const R = 64;

async function localFixture(recordSize: number) {
  const directory = await temporaryDirectory('blobs');
  return {
    open: () => new LocalBlobStore({ directory: join(directory.path, 'files'), minFreeSpace: 0, recordSize }),
    recordSize,
    cleanup: directory.cleanup,
  };
}

describeBlobStoreConformance('LocalBlobStore', localFixture, DEFAULT_RECORD_SIZE);
describeBlobStoreConformance('LocalBlobStore', localFixture, R);

function codeOf(error: unknown): string | undefined {
  return error instanceof SiegelError ? error.code : undefined;
}

async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('LocalBlobStore on disk', () => {
  let directory: { readonly path: string; readonly cleanup: () => Promise<void> };
  let blobs: string;
  let paths: LocalBlobPaths;
  const storeWith = (options: Partial<LocalBlobStoreOptions> = {}) => new LocalBlobStore({ directory: blobs, minFreeSpace: 0, recordSize: R, ...options });

  beforeEach(async () => {
    directory = await temporaryDirectory('blobs-local');
    blobs = join(directory.path, 'files');
    paths = new LocalBlobPaths(blobs);
  });
  afterEach(async () => {
    await directory.cleanup();
  });

  /** A sealed blob of `records` full records and a final one of 5 bytes. */
  async function sealedBlob(key = newKey(), records = 4): Promise<{ id: string; key: Buffer; plaintext: Buffer; path: string }> {
    const id = newId();
    const plaintext = randomBytes(records * R + 5);
    await storeWith().write(id, key, chunked(plaintext), UNLIMITED);
    return { id, key, plaintext, path: paths.sealed(id) };
  }

  /** Reads must fail, and whatever was emitted before the failure must be true plaintext. */
  async function expectReadFails(id: string, key: Buffer, plaintext: Buffer, range?: { start: number; end: number }): Promise<void> {
    const result = await collect(storeWith().read(id, key, range));
    expect(codeOf(result.error)).toBe('DECRYPTION_FAILED');
    const offset = range?.start ?? 0;
    expect(result.data.equals(plaintext.subarray(offset, offset + result.data.length))).toBe(true);
  }

  it('keeps blobs in a hashed shard directory, owner-only, with no working files left', async () => {
    const { id } = await sealedBlob();
    const shard = paths.shard(id);
    expect(shard).toMatch(/files\/[0-9a-f]{2}$/);
    expect((await stat(join(shard, id))).mode & 0o777).toBe(0o600);
    expect((await stat(shard)).mode & 0o777).toBe(0o700);
    expect((await stat(blobs)).mode & 0o777).toBe(0o700);
    expect(await listFiles(blobs)).toEqual([join(shard, id)]);
    const appender = await storeWith().openAppender(newId(), newKey());
    await appender.append(chunked(randomBytes(R + 3)), UNLIMITED);
    await appender.finish();
    expect(await listFiles(blobs)).toHaveLength(2);
  });

  it('stores no plaintext: a marker is found in neither sealed nor unfinished blobs', async () => {
    const marker = 'SIEGEL-PLAINTEXT-MARKER-4711';
    const plaintext = Buffer.from(marker.repeat(5000));
    const key = newKey();
    await storeWith().write(newId(), key, chunked(plaintext), UNLIMITED);
    const unfinished = await storeWith().openAppender(newId(), key);
    await unfinished.append(chunked(plaintext.subarray(0, 3 * R + 20)), UNLIMITED);
    const files = await listFiles(blobs);
    expect(files.some((file) => file.endsWith('.part'))).toBe(true);
    expect(files.some((file) => file.endsWith('.tail'))).toBe(true);
    for (const file of files) {
      const content = await readFile(file);
      expect(content.includes(marker)).toBe(false);
      expect(content.includes(marker.slice(0, 12))).toBe(false);
    }
  });

  it('detects a flipped byte anywhere: header, record body, tag, final record', async () => {
    for (const position of [5, 20, 40, HEADER_SIZE + 3, HEADER_SIZE + R + 2, HEADER_SIZE + 2 * (R + TAG_SIZE) + 7, -1]) {
      const { id, key, plaintext, path } = await sealedBlob();
      const content = await readFile(path);
      const at = position < 0 ? content.length + position : position;
      content[at]! ^= 0x01;
      await writeFile(path, content);
      await expectReadFails(id, key, plaintext);
    }
  });

  it('detects a truncated blob, also when the range does not reach the end', async () => {
    for (const cut of [TAG_SIZE + 5, R + TAG_SIZE, 1]) {
      const { id, key, plaintext, path } = await sealedBlob();
      await truncate(path, (await stat(path)).size - cut);
      await expectReadFails(id, key, plaintext);
      await expectReadFails(id, key, plaintext, { start: 0, end: 10 });
    }
  });

  it('detects swapped records', async () => {
    const { id, key, plaintext, path } = await sealedBlob();
    const content = await readFile(path);
    const first = HEADER_SIZE + (R + TAG_SIZE);
    const second = first + (R + TAG_SIZE);
    const swapped = Buffer.concat([
      content.subarray(0, first),
      content.subarray(second, second + R + TAG_SIZE),
      content.subarray(first, second),
      content.subarray(second + R + TAG_SIZE),
    ]);
    expect(swapped.length).toBe(content.length);
    await writeFile(path, swapped);
    await expectReadFails(id, key, plaintext);
    await expectReadFails(id, key, plaintext, { start: R, end: R + 1 });
  });

  it('detects a record taken from another blob under the same key', async () => {
    const key = newKey();
    const victim = await sealedBlob(key);
    const donor = await sealedBlob(key);
    const content = await readFile(victim.path);
    const donorContent = await readFile(donor.path);
    const record = HEADER_SIZE + 2 * (R + TAG_SIZE);
    donorContent.copy(content, record, record, record + R + TAG_SIZE);
    await writeFile(victim.path, content);
    await expectReadFails(victim.id, key, victim.plaintext);
    await expectReadFails(victim.id, key, victim.plaintext, { start: 2 * R, end: 2 * R + 3 });
  });

  it('cuts off records written after the last commit when an unfinished blob is reopened', async () => {
    const plaintext = randomBytes(5 * R);
    const id = newId();
    const key = newKey();
    const appender = await storeWith().openAppender(id, key);
    await appender.append(chunked(plaintext.subarray(0, 2 * R + 9)), UNLIMITED);
    // A crash after more records reached the part file but before the tail was rewritten.
    const part = await open(paths.part(id), 'a');
    await part.write(randomBytes(2 * (R + TAG_SIZE) + 7));
    await part.close();
    const resumed = await storeWith().openAppender(id, key);
    expect(resumed.offset).toBe(2 * R + 9);
    await resumed.append(chunked(plaintext.subarray(2 * R + 9)), UNLIMITED);
    expect((await resumed.finish()).sha256).toBe(sha256(plaintext));
    expect((await readAll(storeWith().read(id, key))).equals(plaintext)).toBe(true);
  });

  it('notices another writer on an unfinished blob instead of trusting its cached state', async () => {
    const plaintext = randomBytes(4 * R);
    const id = newId();
    const key = newKey();
    const store = storeWith();
    const mine = await store.openAppender(id, key);
    await mine.append(chunked(plaintext.subarray(0, R + 1)), UNLIMITED);
    const other = await storeWith().openAppender(id, key);
    await other.append(chunked(plaintext.subarray(R + 1, 3 * R)), UNLIMITED);
    const again = await store.openAppender(id, key);
    expect(again.offset).toBe(3 * R);
    await again.append(chunked(plaintext.subarray(3 * R)), UNLIMITED);
    expect((await again.finish()).sha256).toBe(sha256(plaintext));
  });

  it('refuses to start a write when free space is below the minimum, leaving nothing', async () => {
    const statfs = async () => ({ bavail: 100, bsize: 4096 });
    const store = storeWith({ statfs, minFreeSpace: 1024 * 1024 });
    expect(await store.freeSpace()).toBe(409_600);
    const id = newId();
    const error = await store.write(id, newKey(), chunked(randomBytes(100)), UNLIMITED).catch((caught: unknown) => caught);
    expect(codeOf(error)).toBe('STORAGE_FAILED');
    const appender = await store.openAppender(newId(), newKey());
    expect(codeOf(await appender.append(chunked(randomBytes(10)), UNLIMITED).catch((caught: unknown) => caught))).toBe('STORAGE_FAILED');
    expect(appender.offset).toBe(0);
    expect((await listFiles(blobs)).filter((file) => !file.endsWith('.part') && !file.endsWith('.tail'))).toEqual([]);
  });

  it('stops a write when free space runs low midway and removes the partial blob', async () => {
    let checks = 0;
    const statfs = async () => {
      checks += 1;
      return { bavail: checks > 3 ? 1 : 1_000_000, bsize: 4096 };
    };
    const store = storeWith({ statfs, minFreeSpace: 1024 * 1024, spaceCheckInterval: 10 * R });
    const id = newId();
    const error = await store.write(id, newKey(), chunked(randomBytes(100 * R), [R]), UNLIMITED).catch((caught: unknown) => caught);
    expect(codeOf(error)).toBe('STORAGE_FAILED');
    expect(checks).toBe(4);
    expect(await store.exists(id)).toBe(false);
    expect(await listFiles(blobs)).toEqual([]);
  });

  it('keeps an unfinished blob as it was when free space runs low during an append', async () => {
    let low = false;
    const statfs = async () => ({ bavail: low ? 1 : 1_000_000, bsize: 4096 });
    const store = storeWith({ statfs, minFreeSpace: 1024 * 1024, spaceCheckInterval: 4 * R });
    const plaintext = randomBytes(20 * R);
    const id = newId();
    const key = newKey();
    const appender = await store.openAppender(id, key);
    await appender.append(chunked(plaintext.subarray(0, R + 2)), UNLIMITED);
    async function* lowMidway(): AsyncGenerator<Buffer> {
      yield plaintext.subarray(R + 2, 3 * R);
      low = true;
      yield plaintext.subarray(3 * R, 10 * R);
    }
    expect(codeOf(await appender.append(lowMidway(), UNLIMITED).catch((caught: unknown) => caught))).toBe('STORAGE_FAILED');
    expect(appender.offset).toBe(R + 2);
    low = false;
    const reopened = await storeWith().openAppender(id, key);
    expect(reopened.offset).toBe(R + 2);
    await reopened.append(chunked(plaintext.subarray(R + 2)), UNLIMITED);
    expect((await reopened.finish()).sha256).toBe(sha256(plaintext));
  });

  it('reports the real free space of the blob file system', async () => {
    expect(await storeWith().freeSpace()).toBeGreaterThan(0);
  });

  it.each(['../escape', '..', '.', '', 'a/b', 'a\\b', 'a.part', 'x'.repeat(129), '%2e%2e', 'a\u0000b', '/etc/passwd', 'ä'])(
    'refuses the id %j everywhere and creates nothing',
    async (id) => {
      const store = storeWith();
      const key = newKey();
      expect(codeOf(await store.write(id, key, chunked(randomBytes(5)), UNLIMITED).catch((caught: unknown) => caught))).toBe('INTERNAL');
      expect(codeOf(await store.openAppender(id, key).catch((caught: unknown) => caught))).toBe('INTERNAL');
      expect(codeOf(await store.exists(id).catch((caught: unknown) => caught))).toBe('INTERNAL');
      expect(codeOf(await store.remove(id).catch((caught: unknown) => caught))).toBe('INTERNAL');
      expect(codeOf((await collect(store.read(id, key))).error)).toBe('INTERNAL');
      expect(await readdir(directory.path)).toEqual([]);
    },
  );
});
