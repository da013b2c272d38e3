/**
 * The staff area over real HTTP: sign-in with the link the real mail
 * notifier delivered into a Maildir, sessions and their expiry, no
 * enumeration of addresses, uploads with tus-js-client and with raw tus
 * requests (interrupted, resumed across a server restart), limits, and
 * upload requests whose mail carries working links. The real
 * TransferService, blob store and siegel.db underneath.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Upload } from 'tus-js-client';
import { blobDirectory } from '../../src/transfer/open.js';
import { patternBytes } from './helpers.js';
import {
  call,
  CookieJar,
  csrfFrom,
  headerOf,
  linkIn,
  mailText,
  postForm,
  signIn,
  stagingFiles,
  startStaffTest,
  waitForMail,
  waitForMails,
  type StaffTest,
} from './staff-helpers.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function download(url: string): Promise<Buffer> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  const file = await fetch(`${url}/download`);
  expect(file.status).toBe(200);
  return Buffer.from(await file.arrayBuffer());
}

/** The CSRF token the upload page hands to the script. */
async function uploadCsrf(test: StaffTest, jar: CookieJar): Promise<string> {
  const page = await (await call(jar, `${test.base}/staff/upload`)).text();
  const match = /data-csrf="([^"]+)"/.exec(page);
  if (!match?.[1]) throw new Error('no CSRF token on the upload page');
  return match[1];
}

function metadataHeader(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key} ${Buffer.from(value, 'utf8').toString('base64')}`)
    .join(',');
}

async function createUpload(test: StaffTest, jar: CookieJar, size: number, fields: Record<string, string> = { filename: 'plan.bin' }, endpoint = '/staff/tus'): Promise<Response> {
  const headers: Record<string, string> = { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size), 'Upload-Metadata': metadataHeader(fields) };
  if (endpoint === '/staff/tus') headers['Siegel-Csrf'] = await uploadCsrf(test, jar);
  return call(jar, `${test.base}${endpoint}`, { method: 'POST', headers });
}

function patch(jar: CookieJar, url: string, offset: number, data: Buffer): Promise<Response> {
  return call(jar, url, {
    method: 'PATCH',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
    body: new Uint8Array(data),
  });
}

async function head(jar: CookieJar, url: string): Promise<Response> {
  return call(jar, url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
}

/** The share link shown to the uploader after the upload finished. */
async function sharedLink(test: StaffTest, jar: CookieJar, uploadUrl: string): Promise<string> {
  const token = uploadUrl.slice(uploadUrl.lastIndexOf('/') + 1);
  const page = await call(jar, `${test.base}/staff/uploads/${token}`);
  expect(page.status).toBe(200);
  return linkIn(await page.text(), '/d/');
}

/** Sends the first `sent` bytes of a PATCH and cuts the connection, like a dropped network. */
function interruptedPatch(url: string, cookie: string, data: Buffer, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const request = http.request({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': '0',
        'Content-Type': 'application/offset+octet-stream',
        'Content-Length': String(data.length),
        cookie,
      },
    });
    request.on('error', () => resolve());
    request.on('response', (response) => {
      response.resume();
      resolve();
    });
    request.write(data.subarray(0, sent), () => {
      // Give the server a moment to take the bytes in, then drop the connection.
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 300);
    });
  });
}

describe('staff area', () => {
  let test: StaffTest;

  beforeAll(async () => {
    test = await startStaffTest({ largeFiles: { maxFileSize: '20MB', ownerQuota: '30MB', minFreeSpace: '1MB' } });
  });

  afterAll(async () => {
    await test.stop();
  });

  it('leads the bare address to the staff area and from there to the sign-in page', async () => {
    const start = await fetch(`${test.base}/`, { redirect: 'manual' });
    expect(start.status).toBe(303);
    expect(start.headers.get('location')).toBe('/staff');
    const staff = await fetch(`${test.base}/staff`, { redirect: 'manual' });
    expect(staff.headers.get('location')).toMatch(/\/staff\/sign-in$/);
  });

  describe('sign-in', () => {
    it('mails a one-time link that a GET does not use up and a POST turns into a session', async () => {
      const jar = new CookieJar();
      const form = await call(jar, `${test.base}/staff/sign-in`);
      expect(form.status).toBe(200);
      const formPage = await form.text();
      expect(formPage).toContain('<label for="address">');
      const before = test.mails().length;
      const sent = await postForm(jar, `${test.base}/staff/sign-in`, { csrf: csrfFrom(formPage, '/staff/sign-in'), address: 'Bauamt@Stadt.example' });
      expect(sent.status).toBe(200);
      expect(await sent.text()).toContain('Wenn die Adresse zu unserer Verwaltung gehört');
      const mails = await waitForMails(test, before + 1);
      const mail = mails[mails.length - 1]!;
      expect(headerOf(mail, 'To')).toBe('bauamt@stadt.example');
      const link = linkIn(mailText(mail), '/staff/sign-in/');
      expect(link.startsWith(`${test.base}/staff/sign-in/`)).toBe(true);
      // Neither the link nor its token reach the log.
      expect(test.logs()).not.toContain(link.slice(link.lastIndexOf('/') + 1));

      // A mail scanner's GET (twice) only sees the button.
      for (let i = 0; i < 2; i += 1) {
        const confirm = await call(new CookieJar(), link);
        expect(confirm.status).toBe(200);
        expect(await confirm.text()).toContain('<button type="submit">Anmelden</button>');
      }
      const confirmPage = await (await call(jar, link)).text();
      const done = await postForm(jar, link, { csrf: csrfFrom(confirmPage) });
      expect(done.status).toBe(303);
      expect(done.headers.get('location')).toBe('/staff');
      const cookie = done.headers.getSetCookie().find((line) => line.startsWith('siegel_staff='));
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      const home = await call(jar, `${test.base}/staff`);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('Angemeldet als bauamt@stadt.example');

      // Single use.
      const again = await postForm(jar, link, { csrf: csrfFrom(confirmPage) });
      expect(again.status).toBe(410);
      const audit = await test.transfer.audit({});
      expect(audit.some((entry) => entry.event === 'sign-in' && entry.actor === 'bauamt@stadt.example')).toBe(true);
    });

    it('answers an outside address exactly like an internal one and mails nothing', async () => {
      const jar = new CookieJar();
      const formPage = await (await call(jar, `${test.base}/staff/sign-in`)).text();
      const csrf = csrfFrom(formPage, '/staff/sign-in');
      const before = test.mails().length;
      const outside = await postForm(jar, `${test.base}/staff/sign-in`, { csrf, address: 'someone@partner.example' });
      const inside = await postForm(jar, `${test.base}/staff/sign-in`, { csrf, address: 'kasse@stadt.example' });
      expect(outside.status).toBe(inside.status);
      expect(await outside.text()).toBe(await inside.text());
      const mails = await waitForMails(test, before + 1);
      // Give a stray mail time to show up, then check the only new one is the internal one.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const fresh = test.mails().slice(before);
      expect(fresh).toHaveLength(1);
      expect(headerOf(mails[before]!, 'To')).toBe('kasse@stadt.example');
    });

    it('shows the field error for a malformed address and rejects a form without its CSRF token', async () => {
      const jar = new CookieJar();
      const formPage = await (await call(jar, `${test.base}/staff/sign-in`)).text();
      const bad = await postForm(jar, `${test.base}/staff/sign-in`, { csrf: csrfFrom(formPage, '/staff/sign-in'), address: 'not an address' });
      expect(bad.status).toBe(400);
      const page = await bad.text();
      expect(page).toContain('aria-describedby="address-error" aria-invalid="true"');
      expect(page).toContain('id="address-error"');
      const forged = await postForm(jar, `${test.base}/staff/sign-in`, { address: 'kasse@stadt.example' });
      expect(forged.status).toBe(403);
    });

    it('limits the links per address', async () => {
      const jar = new CookieJar();
      const csrf = csrfFrom(await (await call(jar, `${test.base}/staff/sign-in`)).text(), '/staff/sign-in');
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) statuses.push((await postForm(jar, `${test.base}/staff/sign-in`, { csrf, address: 'limit@stadt.example' })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    });

    it('ends the session at sign-out and after web.sessionLifetime; expired links do not work', async () => {
      const jar = await signIn(test, 'sitzung@stadt.example');
      const home = await (await call(jar, `${test.base}/staff`)).text();
      const out = await postForm(jar, `${test.base}/staff/sign-out`, { csrf: csrfFrom(home, '/staff/sign-out') });
      expect(out.status).toBe(303);
      expect((await call(jar, `${test.base}/staff`)).status).toBe(303);

      const second = await signIn(test, 'sitzung@stadt.example');
      expect((await call(second, `${test.base}/staff`)).status).toBe(200);
      test.advance(test.config.web.sessionLifetime + 1000);
      const expired = await call(second, `${test.base}/staff`);
      expect(expired.status).toBe(303);
      expect(expired.headers.get('location')).toBe('/staff/sign-in');

      // A link used after its lifetime.
      const jar3 = new CookieJar();
      const csrf = csrfFrom(await (await call(jar3, `${test.base}/staff/sign-in`)).text(), '/staff/sign-in');
      const before = test.mails().length;
      await postForm(jar3, `${test.base}/staff/sign-in`, { csrf, address: 'spaet@stadt.example' });
      const link = linkIn(mailText((await waitForMails(test, before + 1))[before]!), '/staff/sign-in/');
      test.advance(test.config.web.signInLinkLifetime + 1000);
      const confirm = await (await call(jar3, link)).text();
      expect((await postForm(jar3, link, { csrf: csrfFrom(confirm) })).status).toBe(410);
    });
  });

  describe('uploads', () => {
    let jar: CookieJar;

    beforeAll(async () => {
      jar = await signIn(test, 'planung@stadt.example');
    });

    it('takes a file from tus-js-client in Node and turns it into a share with the same bytes', async () => {
      const data = patternBytes(3 * 1024 * 1024 + 17, 5);
      const csrf = await uploadCsrf(test, jar);
      const url = await new Promise<string>((resolve, reject) => {
        const upload = new Upload(data, {
          endpoint: `${test.base}/staff/tus`,
          chunkSize: 1024 * 1024,
          metadata: { filename: 'Lageplan.pdf', filetype: 'application/pdf', expires: '7', maxDownloads: '5' },
          headers: { cookie: jar.header(), 'Siegel-Csrf': csrf },
          retryDelays: [],
          onError: reject,
          onSuccess: () => resolve(upload.url ?? ''),
        });
        upload.start();
      });
      expect(url).toMatch(/\/staff\/tus\/[A-Za-z0-9_-]{43}$/);
      const link = await sharedLink(test, jar, url);
      const bytes = await download(link);
      expect(sha256(bytes)).toBe(sha256(data));
      const shares = await test.transfer.list({ owner: 'planung@stadt.example' });
      const share = shares.find((s) => s.fileName === 'Lageplan.pdf');
      expect(share).toMatchObject({ origin: 'web', maxDownloads: 5, contentType: 'application/pdf', size: data.length });
      expect(share!.expiresAt.getTime() - share!.createdAt.getTime()).toBe(7 * 86_400_000);
      // The home page lists it.
      expect(await (await call(jar, `${test.base}/staff`)).text()).toContain('Lageplan.pdf');
      // No staging blob is left behind.
      expect(stagingFiles(test)).toEqual([]);
    });

    it('resumes an interrupted upload, also after a server restart, with identical bytes', async () => {
      const data = patternBytes(2 * 1024 * 1024 + 5, 9);
      const created = await createUpload(test, jar, data.length, { filename: 'Bauantrag.zip', password: 'geheim-123' });
      expect(created.status).toBe(201);
      const location = created.headers.get('location')!;
      const uploadUrl = new URL(location, test.base).toString();
      await interruptedPatch(uploadUrl, jar.header(), data, 1024 * 1024 + 100);
      // HEAD waits for the cut PATCH to let go of the upload; what it committed is then on disk.
      let before = 0;
      const deadline = Date.now() + 20_000;
      while (before === 0 && Date.now() < deadline) {
        before = Number((await head(jar, uploadUrl)).headers.get('upload-offset'));
        if (before === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThanOrEqual(1024 * 1024 + 100);

      // Neither the upload token (the key's secret) nor the password is in the database or on disk in clear.
      const token = uploadUrl.slice(uploadUrl.lastIndexOf('/') + 1);
      const stored = ['siegel.db', 'siegel.db-wal']
        .map((name) => path.join(test.config.dataDir, name))
        .filter((file) => existsSync(file))
        .map((file) => readFileSync(file).toString('latin1'));
      for (const secret of [token, 'geheim-123', 'Bauantrag.zip']) for (const content of stored) expect(content).not.toContain(secret);
      // The staging blob holds ciphertext only.
      const staging = stagingFiles(test).map((name) => readFileSync(path.join(blobDirectory(test.config), name)));
      expect(staging.length).toBeGreaterThan(0);
      for (const file of staging) for (const at of [0, 4096, 500_000]) expect(file.includes(data.subarray(at, at + 64))).toBe(false);

      // A new server process on the same data dir finds the same offset.
      await test.restart();
      const state = await head(jar, uploadUrl);
      expect(state.status).toBe(200);
      expect(state.headers.get('upload-length')).toBe(String(data.length));
      const offset = Number(state.headers.get('upload-offset'));
      expect(offset).toBe(before);

      // A PATCH at a wrong offset is refused without changing anything.
      expect((await patch(jar, uploadUrl, offset + 1, data.subarray(offset + 1))).status).toBe(409);
      const rest = await patch(jar, uploadUrl, offset, data.subarray(offset));
      expect(rest.status).toBe(204);
      expect(rest.headers.get('upload-offset')).toBe(String(data.length));

      const link = await sharedLink(test, jar, uploadUrl);
      // Password-protected: the link page asks first.
      const linkJar = new CookieJar();
      const passwordPage = await (await call(linkJar, link)).text();
      expect(passwordPage).toContain('type="password"');
      const ok = await postForm(linkJar, link, { csrf: csrfFrom(passwordPage), password: 'geheim-123' });
      expect(ok.status).toBe(303);
      const file = await call(linkJar, `${link}/download`);
      expect(file.status).toBe(200);
      expect(sha256(Buffer.from(await file.arrayBuffer()))).toBe(sha256(data));
      // After the finish, HEAD reports the upload complete (a client that lost the last answer is done).
      const after = await head(jar, uploadUrl);
      expect(after.headers.get('upload-offset')).toBe(String(data.length));
    });

    it('refuses uploads without a session, without the CSRF header, and of other staff', async () => {
      const anonymous = await call(new CookieJar(), `${test.base}/staff/tus`, {
        method: 'POST',
        headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '10', 'Upload-Metadata': metadataHeader({ filename: 'x' }) },
      });
      expect(anonymous.status).toBe(401);
      const noCsrf = await call(jar, `${test.base}/staff/tus`, {
        method: 'POST',
        headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '10', 'Upload-Metadata': metadataHeader({ filename: 'x' }) },
      });
      expect(noCsrf.status).toBe(403);
      const created = await createUpload(test, jar, 10);
      expect(created.status).toBe(201);
      const uploadUrl = new URL(created.headers.get('location')!, test.base).toString();
      const other = await signIn(test, 'fremd@stadt.example');
      expect((await head(other, uploadUrl)).status).toBe(404);
      expect((await patch(other, uploadUrl, 0, Buffer.alloc(10))).status).toBe(404);
    });

    it('answers 413 above maxFileSize and the quota, also for bytes beyond Upload-Length, and 507 without disk space', async () => {
      expect((await createUpload(test, jar, 21 * 1024 * 1024)).status).toBe(413);
      // The quota (30 MB) counts active shares and unfinished uploads: 2 x 16 MB does not fit.
      const first = await createUpload(test, jar, 16 * 1024 * 1024);
      expect(first.status).toBe(201);
      const overQuota = await createUpload(test, jar, 16 * 1024 * 1024);
      expect(overQuota.status).toBe(413);
      // Said as what it is: the quota, not the file's size.
      expect(await overQuota.text()).toContain('QUOTA_EXCEEDED');
      const firstUrl = new URL(first.headers.get('location')!, test.base).toString();
      expect((await call(jar, firstUrl, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' } })).status).toBe(204);
      expect((await createUpload(test, jar, 16 * 1024 * 1024)).status).toBe(201);

      const small = await createUpload(test, jar, 100);
      const smallUrl = new URL(small.headers.get('location')!, test.base).toString();
      expect((await patch(jar, smallUrl, 0, Buffer.alloc(200))).status).toBe(413);
      expect(Number((await head(jar, smallUrl)).headers.get('upload-offset'))).toBe(0);

      const full = await startStaffTest({ largeFiles: { minFreeSpace: 10 ** 15 } });
      try {
        const fullJar = await signIn(full, 'voll@stadt.example');
        const refused = await createUpload(full, fullJar, 1000);
        expect(refused.status).toBe(507);
      } finally {
        await full.stop();
      }
    });

    it('answers 507 when the disk has filled up by the time the bytes arrive, and the upload resumes once there is room', async () => {
      let free = 10 * 1024 ** 3;
      const filling = await startStaffTest({ largeFiles: { minFreeSpace: '100MB' } }, { freeSpace: () => free });
      try {
        const fillingJar = await signIn(filling, 'knapp@stadt.example');
        const data = patternBytes(1024 * 1024, 4);
        const created = await createUpload(filling, fillingJar, data.length);
        expect(created.status).toBe(201);
        const uploadUrl = new URL(created.headers.get('location')!, filling.base).toString();
        free = 50 * 1024 * 1024;
        const refused = await patch(fillingJar, uploadUrl, 0, data);
        expect(refused.status).toBe(507);
        free = 10 * 1024 ** 3;
        const offset = Number((await head(fillingJar, uploadUrl)).headers.get('upload-offset'));
        expect((await patch(fillingJar, uploadUrl, offset, data.subarray(offset))).status).toBe(204);
        const bytes = await download(await sharedLink(filling, fillingJar, uploadUrl));
        expect(sha256(bytes)).toBe(sha256(data));
      } finally {
        await filling.stop();
      }
    });

    it('drops unfinished uploads a day after they started (periodic sweep)', async () => {
      const sweeping = await startStaffTest({ largeFiles: { sweepInterval: '1s' } });
      try {
        const sweepingJar = await signIn(sweeping, 'vergessen@stadt.example');
        const created = await createUpload(sweeping, sweepingJar, 1000);
        const uploadUrl = new URL(created.headers.get('location')!, sweeping.base).toString();
        expect((await patch(sweepingJar, uploadUrl, 0, Buffer.alloc(500, 1))).status).toBe(204);
        expect(stagingFiles(sweeping).length).toBeGreaterThan(0);
        sweeping.advance(25 * 3_600_000);
        // The session has long expired too; the same person signs in again.
        const again = await signIn(sweeping, 'vergessen@stadt.example');
        const deadline = Date.now() + 20_000;
        let status = 200;
        while (status !== 404 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          status = (await head(again, uploadUrl)).status;
        }
        expect(status).toBe(404);
        expect(stagingFiles(sweeping)).toEqual([]);
      } finally {
        await sweeping.stop();
      }
    });

    it('lets the owner withdraw a share from the home page', async () => {
      const created = await createUpload(test, jar, 5, { filename: 'weg.txt' });
      const uploadUrl = new URL(created.headers.get('location')!, test.base).toString();
      expect((await patch(jar, uploadUrl, 0, Buffer.from('hallo'))).status).toBe(204);
      const link = await sharedLink(test, jar, uploadUrl);
      const home = await (await call(jar, `${test.base}/staff`)).text();
      const share = (await test.transfer.list({ owner: 'planung@stadt.example' })).find((s) => s.fileName === 'weg.txt')!;
      const action = `/staff/shares/${share.id}/revoke`;
      const revoked = await postForm(jar, `${test.base}${action}`, { csrf: csrfFrom(home, action) });
      expect(revoked.status).toBe(303);
      expect((await fetch(link)).status).toBe(410);
    });
  });

  describe('upload requests', () => {
    it('lets a partner upload through the request link and mails the staff member working links', async () => {
      const jar = await signIn(test, 'tiefbau@stadt.example');
      const page = await (await call(jar, `${test.base}/staff/requests`)).text();
      const created = await postForm(jar, `${test.base}/staff/requests`, {
        csrf: csrfFrom(page, '/staff/requests'),
        partner: 'buero@ingenieure.example',
        note: 'Bitte die Statik als PDF.',
        expires: '7',
      });
      expect(created.status).toBe(201);
      const requestLink = linkIn(await created.text(), '/u/');
      const partner = new CookieJar();
      const publicPage = await call(partner, requestLink);
      expect(publicPage.status).toBe(200);
      const publicHtml = await publicPage.text();
      expect(publicHtml).toContain('Bitte die Statik als PDF.');
      expect(publicHtml).toContain('<progress id="progress"');

      const data = patternBytes(1024 * 1024 + 3, 3);
      const endpoint = new URL(requestLink).pathname + '/tus';
      const before = test.mails().length;
      const upload = await createUpload(test, partner, data.length, { filename: 'Statik.pdf', filetype: 'application/pdf' }, endpoint);
      expect(upload.status).toBe(201);
      const uploadUrl = new URL(upload.headers.get('location')!, test.base).toString();
      expect(uploadUrl).toContain(`${endpoint}/`);
      expect((await patch(partner, uploadUrl, 0, data)).status).toBe(204);

      const mail = await waitForMail(test, before, (raw) => mailText(raw).includes('Statik.pdf'));
      expect(headerOf(mail, 'To')).toBe('tiefbau@stadt.example');
      const text = mailText(mail);
      expect(text).toContain('Statik.pdf');
      expect(text).toContain('buero@ingenieure.example');
      expect(text).toContain(sha256(data));
      const bytes = await download(linkIn(text, '/d/'));
      expect(sha256(bytes)).toBe(sha256(data));
      const share = (await test.transfer.list({ owner: 'tiefbau@stadt.example' }))[0];
      expect(share).toMatchObject({ origin: 'upload-request', fileName: 'Statik.pdf' });

      // The staff list counts the file; closing the request ends the link.
      const list = await (await call(jar, `${test.base}/staff/requests`)).text();
      const close = /action="(\/staff\/requests\/[0-9a-f]{32}\/close)"/.exec(list)![1]!;
      expect((await postForm(jar, `${test.base}${close}`, { csrf: csrfFrom(list, close) })).status).toBe(303);
      expect((await call(partner, requestLink)).status).toBe(410);
      expect((await createUpload(test, partner, 10, { filename: 'spaet.pdf' }, endpoint)).status).toBe(410);
    });

    it('withdraws the share and tells the partner when the mail to the staff member cannot be sent', async () => {
      const jar = await signIn(test, 'bauamt@stadt.example');
      const page = await (await call(jar, `${test.base}/staff/requests`)).text();
      const created = await postForm(jar, `${test.base}/staff/requests`, { csrf: csrfFrom(page, '/staff/requests'), partner: 'buero@ingenieure.example', expires: '7' });
      const requestLink = linkIn(await created.text(), '/u/');
      const partner = new CookieJar();
      const endpoint = new URL(requestLink).pathname + '/tus';
      const data = patternBytes(4096, 9);
      const upload = await createUpload(test, partner, data.length, { filename: 'Gutachten.pdf' }, endpoint);
      const uploadUrl = new URL(upload.headers.get('location')!, test.base).toString();
      // The mail cannot be delivered: the Maildir's new/ is not a directory for a moment.
      const dirNew = path.join(test.maildir, 'new');
      renameSync(dirNew, `${dirNew}.away`);
      writeFileSync(dirNew, '');
      try {
        expect((await patch(partner, uploadUrl, 0, data)).status).toBeGreaterThanOrEqual(500);
      } finally {
        rmSync(dirNew);
        renameSync(`${dirNew}.away`, dirNew);
      }
      const share = (await test.transfer.list({ owner: 'bauamt@stadt.example', includeInactive: true })).find((s) => s.fileName === 'Gutachten.pdf');
      expect(share?.state).toBe('revoked');
      // The upload is gone with it: the partner's client starts over instead of taking the withdrawn share for a success.
      expect((await head(partner, uploadUrl)).status).toBe(404);
    });

    it('lets request links expire and answers unknown ones 404', async () => {
      const jar = await signIn(test, 'hochbau@stadt.example');
      const page = await (await call(jar, `${test.base}/staff/requests`)).text();
      const created = await postForm(jar, `${test.base}/staff/requests`, { csrf: csrfFrom(page, '/staff/requests'), expires: '1' });
      const requestLink = linkIn(await created.text(), '/u/');
      expect((await fetch(requestLink)).status).toBe(200);
      test.advance(86_400_000 + 1000);
      expect((await fetch(requestLink)).status).toBe(410);
      expect((await fetch(`${test.base}/u/${'A'.repeat(43)}`)).status).toBe(404);
    });
  });
});
