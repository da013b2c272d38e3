/**
 * A finished upload becomes a share without a second pass over the file:
 * TransferService.adopt renames the sealed staging blob (the same inode,
 * no copy) under the checks every share gets, and Uploads encrypts the
 * staging blob under the key of the share to be, never under the upload
 * token the uploader knows. Also the batched, read-ahead blob reader
 * across batch boundaries.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { SiegelError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { deriveFileKey } from '../../src/transfer/file-crypto.js';
import { LocalBlobStore } from '../../src/transfer/local-blob-store.js';
import { SqliteStaffStore } from '../../src/transfer/sqlite-staff-store.js';
import { newShareId, newToken } from '../../src/transfer/tokens.js';
import type { PreparedBlob } from '../../src/transfer/types.js';
import { newSecret, Uploads } from '../../src/transfer/uploads.js';
import { chunked, collect, sha256, temporaryDirectory } from './blob-test-helpers.js';
import { serviceFixture, type ServiceFixture } from './service-fixture.js';

const owner = 'planung@stadt.example';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return err instanceof SiegelError ? err.code : String(err);
  }
}

/** A sealed staging blob written as an upload writes it: in pieces, under the key of the share to be. */
async function stagedBlob(fx: ServiceFixture, data: Buffer): Promise<PreparedBlob> {
  const blobId = `upload-${randomBytes(16).toString('hex')}`;
  const id = newShareId();
  const token = newToken();
  const appender = await fx.blobs.openAppender(blobId, deriveFileKey(token, id));
  await appender.append(chunked(data, [70_000, 3]), { maxBytes: data.length });
  const { size, sha256: hash } = await appender.finish();
  return { blobId, id, token, size, sha256: hash };
}

describe('TransferService.adopt', () => {
  let fx: ServiceFixture;
  beforeEach(() => {
    fx = serviceFixture({ largeFiles: { ownerQuota: '1MB' } });
  });
  afterEach(async () => {
    await fx.service.close();
  });

  it('makes the sealed blob a share by renaming it: same file, exact bytes, only the token hash in the database', async () => {
    const data = randomBytes(300_000);
    const blob = await stagedBlob(fx, data);
    const { blobId, id, token } = blob;
    expect(blob.sha256).toBe(sha256(data));
    const stagingInode = statSync(fx.blobFiles().find((file) => path.basename(file) === blobId)!).ino;

    const share = await fx.service.adopt(blob, { owner, fileName: '../Plan.pdf', origin: 'web' });
    expect(share).toMatchObject({ id, token, size: data.length, sha256: sha256(data), fileName: 'Plan.pdf' });
    expect(share.url).toBe(`https://dateien.stadt.example/d/${token}`);
    // The share's file is the staging file under a new name: no second pass wrote a copy.
    expect(fx.blobFiles().map((file) => path.basename(file))).toEqual([id]);
    expect(statSync(fx.blobFiles()[0]!).ino).toBe(stagingInode);
    expect(await fx.blobs.exists(blobId)).toBe(false);

    const result = await fx.service.download(token, {});
    if (result.status !== 'ok') throw new Error(`download: ${result.status}`);
    expect((await collect(result.stream)).data.equals(data)).toBe(true);
    expect(fx.databaseBytes().toString('latin1')).not.toContain(token);
    expect((await fx.service.audit({ shareId: id })).map((entry) => entry.event)).toEqual(['share', 'download']);
  });

  it('refuses a blob the token does not open, and removes it', async () => {
    const blob = await stagedBlob(fx, randomBytes(1000));
    expect(await codeOf(fx.service.adopt({ ...blob, token: newToken() }, { owner, fileName: 'a.bin', origin: 'web' }))).toBe('DECRYPTION_FAILED');
    expect(fx.blobFiles()).toEqual([]);
    expect(await fx.service.list({ includeInactive: true })).toEqual([]);
  });

  it('applies the quota and the shape of ids and tokens, leaving nothing behind', async () => {
    const big = await stagedBlob(fx, randomBytes(1024 * 1024 + 1));
    expect(await codeOf(fx.service.adopt(big, { owner, fileName: 'big.bin', origin: 'web' }))).toBe('QUOTA_EXCEEDED');
    const odd = await stagedBlob(fx, randomBytes(10));
    expect(await codeOf(fx.service.adopt({ ...odd, id: 'upload-not-a-share-id' }, { owner, fileName: 'a.bin', origin: 'web' }))).toBe('INTERNAL');
    const bad = await stagedBlob(fx, randomBytes(10));
    expect(await codeOf(fx.service.adopt(bad, { owner, fileName: 'a.bin', origin: 'web', maxDownloads: 0 }))).toBe('INVALID_REQUEST');
    expect(fx.blobFiles()).toEqual([]);
    expect(await fx.service.list({ includeInactive: true })).toEqual([]);
  });
});

describe('Uploads with adopt', () => {
  it('stores the upload under the share key, not the upload token, and adopts it on finishing', async () => {
    const fx = serviceFixture();
    const config = configSchema.parse({ dataDir: fx.dataDir, trustAnchors: path.join(fx.dir, 'anchors'), largeFiles: { minFreeSpace: '1MB' } });
    const store = SqliteStaffStore.open(fx.dataDir);
    try {
      const uploads = new Uploads({ config, store, blobs: fx.blobs, transfer: fx.service, logger: silentLogger(), now: () => fx.clock.now });
      const token = newSecret();
      const data = randomBytes(200_003);
      await uploads.create({ token, owner, size: data.length, options: { fileName: 'Antrag.pdf' } });
      await uploads.append(token, 0, chunked(data.subarray(0, 100_000)));
      const staging = fx.blobFiles();
      expect(staging.length).toBeGreaterThan(0);
      const blobId = path.basename(staging.find((file) => file.endsWith('.part'))!, '.part');
      // Whoever holds only the upload token (a partner) cannot open the staging blob.
      expect(await codeOf(fx.blobs.openAppender(blobId, deriveFileKey(token, blobId)))).toBe('DECRYPTION_FAILED');
      await uploads.append(token, 100_000, chunked(data.subarray(100_000)));

      const result = await uploads.finish(token, 'upload-request');
      const linkToken = result.url.slice(result.url.lastIndexOf('/') + 1);
      expect(linkToken).not.toBe(token);
      expect(result).toMatchObject({ size: data.length, sha256: sha256(data), fileName: 'Antrag.pdf' });
      expect(readdirSync(fx.blobDir, { recursive: true, encoding: 'utf8' }).filter((name) => name.includes('upload-'))).toEqual([]);
      const download = await fx.service.download(linkToken, {});
      if (download.status !== 'ok') throw new Error(`download: ${download.status}`);
      expect((await collect(download.stream)).data.equals(data)).toBe(true);
      // Finishing again answers the same share; the upload token is no link.
      expect((await uploads.finish(token, 'upload-request')).shareId).toBe(result.shareId);
      expect((await fx.service.lookup(token)).status).toBe('unknown');
      // The day-old upload record is swept without touching the share's blob.
      fx.advance(25 * 3_600_000);
      await uploads.sweep();
      expect((await fx.service.lookup(linkToken)).status).toBe('ok');
      expect(await fx.blobs.exists(result.shareId)).toBe(true);
    } finally {
      store.close();
      await fx.service.close();
    }
  });
});

describe('reading a blob in batches', () => {
  it('returns exact bytes for the whole blob and for ranges across batch boundaries', async () => {
    const dir = await temporaryDirectory('batches');
    try {
      // 1 KiB records (1040 bytes sealed): a 1 MiB read batch holds 1008 of them.
      const blobs = new LocalBlobStore({ directory: dir.path, minFreeSpace: 0, recordSize: 1024 });
      const data = randomBytes(2 * 1008 * 1024 + 300_007);
      const key = randomBytes(32);
      await blobs.write('b1', key, chunked(data, [65_536, 7]), { maxBytes: data.length });
      expect((await collect(blobs.read('b1', key))).data.equals(data)).toBe(true);
      const batch = 1008 * 1024;
      for (const [start, end] of [
        [batch - 1, batch],
        [batch - 5, 2 * batch + 5],
        [3, data.length - 1],
        [2 * batch, data.length - 2],
      ] as const) {
        expect((await collect(blobs.read('b1', key, { start, end }))).data.equals(data.subarray(start, end + 1))).toBe(true);
      }
      // A reader dropped while its next batch is being read ends quietly (the file handle waits for the read).
      const stream = blobs.read('b1', key);
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.destroy();
      await new Promise((resolve) => stream.once('close', resolve));
      expect(stream.destroyed).toBe(true);
      // rename: never over an existing blob, and not from a missing one.
      await blobs.write('b2', key, chunked(data.subarray(0, 10)), { maxBytes: 10 });
      expect(await codeOf(blobs.rename('b1', 'b2'))).toBe('INTERNAL');
      expect(await codeOf(blobs.rename('b3', 'b4'))).toBe('NOT_FOUND');
      await blobs.rename('b1', 'b5');
      expect(await blobs.exists('b1')).toBe(false);
      expect((await collect(blobs.read('b5', key))).data.equals(data)).toBe(true);
    } finally {
      await dir.cleanup();
    }
  });
});
