/**
 * The lean tus PATCH (src/web/staff/tus-patch.ts) against the tus 1.0 core
 * rules: the header checks and their statuses, the offset and length
 * checks that leave the upload untouched, serialised concurrent PATCHes,
 * and a stalled PATCH that gives way to a HEAD keeping what arrived.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { patternBytes } from './helpers.js';
import { call, CookieJar, signIn, startStaffTest, type StaffTest } from './staff-helpers.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const octets = 'application/offset+octet-stream';

async function createUpload(test: StaffTest, jar: CookieJar, size: number): Promise<string> {
  const page = await (await call(jar, `${test.base}/staff/upload`)).text();
  const csrf = /data-csrf="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error('no CSRF token on the upload page');
  const created = await call(jar, `${test.base}/staff/tus`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size), 'Upload-Metadata': `filename ${Buffer.from('lean.bin').toString('base64')}`, 'Siegel-Csrf': csrf },
  });
  expect(created.status).toBe(201);
  return new URL(created.headers.get('location')!, test.base).toString();
}

function patch(jar: CookieJar, url: string, data: Buffer, headers: Record<string, string>): Promise<Response> {
  return call(jar, url, { method: 'PATCH', headers, body: new Uint8Array(data) });
}

async function offsetOf(jar: CookieJar, url: string): Promise<number> {
  const answer = await call(jar, url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  expect(answer.status).toBe(200);
  return Number(answer.headers.get('upload-offset'));
}

/** Sends the first `sent` bytes of a PATCH and keeps the connection open; resolves with the status and Upload-Offset once answered. */
function stalledPatch(url: string, cookie: string, data: Buffer, sent: number): { readonly answered: Promise<{ status: number; offset: string | undefined }>; readonly sentAll: Promise<void> } {
  const target = new URL(url);
  let request!: http.ClientRequest;
  const answered = new Promise<{ status: number; offset: string | undefined }>((resolve, reject) => {
    request = http.request({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': octets, 'Content-Length': String(data.length), cookie },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, offset: response.headers['upload-offset'] as string | undefined });
      request.destroy();
    });
  });
  const sentAll = new Promise<void>((resolve) => request.write(data.subarray(0, sent), () => resolve()));
  return { answered, sentAll };
}

describe('tus PATCH', () => {
  let test: StaffTest;
  let jar: CookieJar;

  beforeAll(async () => {
    test = await startStaffTest({ largeFiles: { maxFileSize: '20MB', ownerQuota: '100MB', minFreeSpace: '1MB' } });
    jar = await signIn(test, 'lean@stadt.example');
  });

  afterAll(async () => {
    await test.stop();
  });

  it('checks Tus-Resumable, Content-Type, Upload-Offset and the length before taking a byte', async () => {
    const data = patternBytes(1000, 4);
    const url = await createUpload(test, jar, data.length);
    const good = { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': octets };
    const missingVersion = await patch(jar, url, data, { 'Upload-Offset': '0', 'Content-Type': octets });
    expect(missingVersion.status).toBe(412);
    const otherVersion = await patch(jar, url, data, { ...good, 'Tus-Resumable': '0.2.2' });
    expect(otherVersion.status).toBe(412);
    expect(otherVersion.headers.get('tus-version')).toBe('1.0.0');
    expect((await patch(jar, url, data, { ...good, 'Content-Type': 'application/octet-stream' })).status).toBe(415);
    expect((await patch(jar, url, data, { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0' })).status).toBe(415);
    for (const offset of ['-1', '1.5', 'x', '007']) expect((await patch(jar, url, data, { ...good, 'Upload-Offset': offset })).status).toBe(400);
    expect((await patch(jar, url, data, { ...good, 'Upload-Offset': '10' })).status).toBe(409);
    expect((await patch(jar, url, Buffer.concat([data, Buffer.alloc(1)]), good)).status).toBe(413);
    expect(await offsetOf(jar, url)).toBe(0);

    const first = await patch(jar, url, data.subarray(0, 600), good);
    expect(first.status).toBe(204);
    expect(first.headers.get('tus-resumable')).toBe('1.0.0');
    expect(first.headers.get('upload-offset')).toBe('600');
    expect(await first.text()).toBe('');
    // Past the end from the new offset: refused, nothing taken.
    expect((await patch(jar, url, data.subarray(0, 401), { ...good, 'Upload-Offset': '600' })).status).toBe(413);
    expect(await offsetOf(jar, url)).toBe(600);
    const last = await patch(jar, url, data.subarray(600), { ...good, 'Upload-Offset': '600' });
    expect(last.status).toBe(204);
    expect(last.headers.get('upload-offset')).toBe('1000');
    // Finished: the upload page shows the share.
    const token = url.slice(url.lastIndexOf('/') + 1);
    expect((await call(jar, `${test.base}/staff/uploads/${token}`)).status).toBe(200);
  });

  it('lets only one of two PATCHes at the same offset append', async () => {
    const data = patternBytes(3 * 1024 * 1024 + 7, 5);
    const url = await createUpload(test, jar, data.length * 2);
    const headers = { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': octets };
    const answers = await Promise.all([patch(jar, url, data, headers), patch(jar, url, data, headers)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([204, 409]);
    expect(answers.find((answer) => answer.status === 204)!.headers.get('upload-offset')).toBe(String(data.length));
    expect(await offsetOf(jar, url)).toBe(data.length);
    // The rest completes the file: its bytes are the first half twice, nothing interleaved.
    const rest = await patch(jar, url, data, { ...headers, 'Upload-Offset': String(data.length) });
    expect(rest.status).toBe(204);
    const token = url.slice(url.lastIndexOf('/') + 1);
    const page = await (await call(jar, `${test.base}/staff/uploads/${token}`)).text();
    const link = /https?:\/\/[^\s"<>]*?\/d\/[A-Za-z0-9_-]{43}/.exec(page)![0];
    const file = await fetch(`${link}/download`);
    expect(file.status).toBe(200);
    expect(sha256(Buffer.from(await file.arrayBuffer()))).toBe(sha256(Buffer.concat([data, data])));
  });

  it('ends a stalled PATCH when a HEAD waits for the upload, keeping what arrived', async () => {
    const data = patternBytes(2 * 1024 * 1024, 6);
    const url = await createUpload(test, jar, data.length);
    const sent = 1024 * 1024 + 9;
    const stalled = stalledPatch(url, jar.header(), data, sent);
    await stalled.sentAll;
    // Let the server take the bytes in before the HEAD asks for the lock.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const offset = await offsetOf(jar, url);
    const answer = await stalled.answered;
    expect(answer.status).toBe(204);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(sent);
    expect(answer.offset).toBe(String(offset));
    // The upload resumes from there.
    const rest = await patch(jar, url, data.subarray(offset), { 'Tus-Resumable': '1.0.0', 'Upload-Offset': String(offset), 'Content-Type': octets });
    expect(rest.status).toBe(204);
    expect(rest.headers.get('upload-offset')).toBe(String(data.length));
  });
});
