/**
 * A 200 MB download through HTTP keeps the process's memory flat: the
 * bytes are streamed from the encrypted store to the socket, never
 * buffered. Client and server share this process, so the bound covers
 * both; a buffered file alone would exceed it.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { linkPathOf, startWebTest, type WebTest } from './helpers.js';

const fileSize = 200 * 1024 * 1024;
const chunkSize = 1024 * 1024;
/** Generous: half the file's size; streaming needed about 3 MB when measured. */
const maxGrowth = 100 * 1024 * 1024;

let web: WebTest;

beforeAll(async () => {
  web = await startWebTest();
});

afterAll(async () => {
  await web.stop();
});

function* generated(hash: ReturnType<typeof createHash>): Generator<Buffer> {
  for (let offset = 0; offset < fileSize; offset += chunkSize) {
    const chunk = Buffer.alloc(chunkSize, offset / chunkSize);
    chunk.writeUInt32BE(offset, 0);
    hash.update(chunk);
    yield chunk;
  }
}

test('a 200 MB download streams with flat memory and exact bytes', async () => {
  const sent = createHash('sha256');
  const share = await web.shareStream(generated(sent), { fileName: 'gross.bin' });
  const expected = sent.digest('hex');
  expect(share.size).toBe(fileSize);

  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const received = createHash('sha256');
  let bytes = 0;
  // node:http rather than fetch: the client side should add as little as possible to the measurement.
  const status = await new Promise<number | undefined>((resolve, reject) => {
    http
      .get(`${web.base}${linkPathOf(share)}/download`, (response) => {
        response.on('data', (chunk: Buffer) => {
          received.update(chunk);
          bytes += chunk.length;
          peak = Math.max(peak, process.memoryUsage().rss);
        });
        response.on('end', () => resolve(response.statusCode));
        response.on('error', reject);
      })
      .on('error', reject);
  });
  expect(status).toBe(200);
  expect(bytes).toBe(fileSize);
  expect(received.digest('hex')).toBe(expected);
  expect(peak - baseline).toBeLessThan(maxGrowth);
}, 180_000);
