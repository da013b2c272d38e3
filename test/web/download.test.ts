/**
 * GET|HEAD /d/<token>/download over real HTTP: whole file, single ranges
 * (first bytes, open, suffix), several ranges (answered with the whole
 * file, 200: documented in src/web/range.ts), unsatisfiable ranges (416),
 * a resumed download that adds up to the exact bytes, If-Range, HEAD
 * without counting, Content-Disposition against path tricks, and no token
 * in the log.
 */
import { createHash } from 'node:crypto';
import { linkPathOf, patternBytes, startWebTest, type WebTest } from './helpers.js';

let web: WebTest;
const content = patternBytes(300_000, 7);
let url: string;
let token: string;

beforeAll(async () => {
  web = await startWebTest();
  const share = await web.share(content, { fileName: 'Bauplan.pdf', contentType: 'application/pdf' });
  url = `${web.base}${linkPathOf(share)}/download`;
  token = share.token;
});

afterAll(async () => {
  await web.stop();
});

async function get(range?: string, extra: Record<string, string> = {}, target = url): Promise<{ response: Response; bytes: Buffer }> {
  const response = await fetch(target, { headers: { ...(range ? { Range: range } : {}), ...extra }, redirect: 'manual' });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

test('the whole file with download headers', async () => {
  const { response, bytes } = await get();
  expect(response.status).toBe(200);
  expect(bytes.equals(content)).toBe(true);
  expect(response.headers.get('content-length')).toBe(String(content.length));
  expect(response.headers.get('content-type')).toBe('application/pdf');
  expect(response.headers.get('content-disposition')).toBe(`attachment; filename="Bauplan.pdf"; filename*=UTF-8''Bauplan.pdf`);
  expect(response.headers.get('accept-ranges')).toBe('bytes');
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('etag')).toBe(`"${createHash('sha256').update(content).digest('hex')}"`);
  expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
});

test('single ranges: first bytes, open range, suffix range', async () => {
  const first = await get('bytes=0-99');
  expect(first.response.status).toBe(206);
  expect(first.response.headers.get('content-range')).toBe(`bytes 0-99/${content.length}`);
  expect(first.response.headers.get('content-length')).toBe('100');
  expect(first.bytes.equals(content.subarray(0, 100))).toBe(true);

  const open = await get('bytes=123456-');
  expect(open.response.status).toBe(206);
  expect(open.response.headers.get('content-range')).toBe(`bytes 123456-${content.length - 1}/${content.length}`);
  expect(open.bytes.equals(content.subarray(123456))).toBe(true);

  const suffix = await get('bytes=-100');
  expect(suffix.response.status).toBe(206);
  expect(suffix.response.headers.get('content-range')).toBe(`bytes ${content.length - 100}-${content.length - 1}/${content.length}`);
  expect(suffix.bytes.equals(content.subarray(content.length - 100))).toBe(true);

  const beyond = await get(`bytes=299990-400000`);
  expect(beyond.response.status).toBe(206);
  expect(beyond.bytes.equals(content.subarray(299990))).toBe(true);
});

test('several ranges and malformed ranges get the whole file (200)', async () => {
  for (const header of ['bytes=0-9,20-29', 'bytes=0-9, -5', 'bytes=9-0', 'items=0-9', 'bytes=abc']) {
    const { response, bytes } = await get(header);
    expect([header, response.status]).toEqual([header, 200]);
    expect(response.headers.get('content-range')).toBeNull();
    expect(bytes.equals(content)).toBe(true);
  }
});

test('ranges outside the file are 416 with Content-Range bytes */size', async () => {
  for (const header of [`bytes=${content.length}-`, 'bytes=999999-1000000', 'bytes=-0']) {
    const { response } = await get(header);
    expect([header, response.status]).toEqual([header, 416]);
    expect(response.headers.get('content-range')).toBe(`bytes */${content.length}`);
  }
});

test('an interrupted download resumed with Range adds up to identical bytes', async () => {
  // Read part of the body, then abort the connection as a browser would on a network failure.
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = response.body!.getReader();
  const parts: Buffer[] = [];
  let received = 0;
  while (received < 50_000) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(Buffer.from(value));
    received += value.length;
  }
  controller.abort();
  await reader.cancel().catch(() => undefined);
  const head = Buffer.concat(parts);
  expect(head.length).toBeLessThan(content.length);
  const etag = response.headers.get('etag')!;
  const rest = await get(`bytes=${head.length}-`, { 'If-Range': etag });
  expect(rest.response.status).toBe(206);
  const whole = Buffer.concat([head, rest.bytes]);
  expect(createHash('sha256').update(whole).digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
});

test('If-Range with another validator gets the whole file', async () => {
  const { response, bytes } = await get('bytes=100-', { 'If-Range': '"0000"' });
  expect(response.status).toBe(200);
  expect(bytes.equals(content)).toBe(true);
  const dated = await get('bytes=100-', { 'If-Range': new Date().toUTCString() });
  expect(dated.response.status).toBe(200);
});

test('HEAD answers the headers without a body and without counting a download', async () => {
  const share = await web.share(patternBytes(1000), { maxDownloads: 1 });
  const target = `${web.base}${linkPathOf(share)}/download`;
  for (let i = 0; i < 3; i += 1) {
    const head = await fetch(target, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('1000');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  }
  const ranged = await fetch(target, { method: 'HEAD', headers: { Range: 'bytes=10-19' } });
  expect(ranged.status).toBe(206);
  expect(ranged.headers.get('content-range')).toBe('bytes 10-19/1000');
  expect(ranged.headers.get('content-length')).toBe('10');
  // The one allowed download is still there, and then it is used up.
  expect((await get(undefined, {}, target)).response.status).toBe(200);
  expect((await get(undefined, {}, target)).response.status).toBe(410);
});

test('path tricks and odd characters in file names are neutralised in Content-Disposition', async () => {
  const cases: Array<[string, RegExp]> = [
    ['../../etc/passwd', /^attachment; filename="passwd"; filename\*=UTF-8''passwd$/],
    ['..\\..\\Windows\\system32\\evil.exe', /^attachment; filename="evil.exe"; filename\*=UTF-8''evil.exe$/],
    ['Straßen"plan"\r\nX-Evil: 1.pdf', /^attachment; filename="Strassen_plan_X-Evil_ 1.pdf"; filename\*=UTF-8''Stra%C3%9Fen_plan_X-Evil_%201\.pdf$/],
    ['Übersicht 100%.pdf', /^attachment; filename="Ubersicht 100_.pdf"; filename\*=UTF-8''%C3%9Cbersicht%20100%25\.pdf$/],
    ['...', /^attachment; filename="file"; filename\*=UTF-8''file$/],
  ];
  for (const [fileName, expected] of cases) {
    const share = await web.share(Buffer.from('x'), { fileName });
    const { response } = await get(undefined, {}, `${web.base}${linkPathOf(share)}/download`);
    expect(response.status).toBe(200);
    expect([fileName, response.headers.get('content-disposition')]).toEqual([fileName, expect.stringMatching(expected)]);
  }
});

test('a media type that is not a plain type/subtype is served as application/octet-stream', async () => {
  const share = await web.share(Buffer.from('<script>alert(1)</script>'), { contentType: 'text/html\r\nX-Evil: 1' });
  const { response } = await get(undefined, {}, `${web.base}${linkPathOf(share)}/download`);
  expect(response.headers.get('content-type')).toBe('application/octet-stream');
  expect(response.headers.get('x-evil')).toBeNull();
});

test('an empty file downloads as 0 bytes; any range on it is 416', async () => {
  const share = await web.share(Buffer.alloc(0));
  const target = `${web.base}${linkPathOf(share)}/download`;
  const whole = await get(undefined, {}, target);
  expect(whole.response.status).toBe(200);
  expect(whole.bytes.length).toBe(0);
  expect((await get('bytes=0-', {}, target)).response.status).toBe(416);
});

test('tokens never appear in the log, only a short hash', async () => {
  await get('bytes=0-9');
  await fetch(`${web.base}/d/${token}`);
  await fetch(`${web.base}/d/${token}x/download`);
  const logs = web.logs();
  expect(logs).toContain('"path":"/d/~');
  expect(logs).toContain('download sent');
  expect(logs).not.toContain(token);
  expect(logs).not.toContain(token.slice(0, 16));
});
