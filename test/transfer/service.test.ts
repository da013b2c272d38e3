/**
 * SiegelTransferService on the real stores: the local encrypted blob store
 * and node:sqlite in a temporary directory, a clock the tests move.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { SiegelError } from '../../src/errors.js';
import type { ShareOptions } from '../../src/transfer/types.js';
import { readAll, sha256 } from './blob-test-helpers.js';
import { serviceFixture, START, type ServiceFixture } from './service-fixture.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const OWNER = 'bauamt@stadt.example';

function options(overrides: Partial<ShareOptions> = {}): ShareOptions {
  return { owner: OWNER, fileName: 'Bauplan.pdf', origin: 'cli', ...overrides };
}

/** Random bytes with a readable marker, so a plaintext leak would be found by a byte search. */
function content(size: number): Buffer {
  const data = randomBytes(size);
  const marker = Buffer.from('PLAINTEXT-MARKER-BAUPLAN-');
  for (let at = 0; at + marker.length < size; at += 4096) marker.copy(data, at);
  return data;
}

function pieces(data: Buffer, size = 10_000): Readable {
  return Readable.from((function* () {
    for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
  })());
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<SiegelError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(SiegelError);
  expect((error as SiegelError).code).toBe(code);
  return error as SiegelError;
}

describe('TransferService', () => {
  let fx: ServiceFixture;

  afterEach(async () => {
    await fx.service.close();
  });

  describe('share and download', () => {
    beforeEach(() => {
      fx = serviceFixture();
    });

    it('returns the exact bytes, a well-formed link, and stores neither the token nor plaintext', async () => {
      const data = content(300_000);
      const created = await fx.service.share(pieces(data), options({ fileName: '../../etc/passwd', clientIp: '192.0.2.7', contentType: 'Application/PDF; name=x' }));
      expect(created.fileName).toBe('passwd');
      expect(created.size).toBe(data.length);
      expect(created.sha256).toBe(sha256(data));
      expect(created.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(created.url).toBe(`https://dateien.stadt.example/d/${created.token}`);
      expect(created.id).not.toContain(created.token);
      expect(created.expiresAt).toEqual(new Date(START.getTime() + 14 * DAY));

      const lookup = await fx.service.lookup(created.token);
      expect(lookup).toEqual({
        status: 'ok',
        info: expect.objectContaining({ id: created.id, owner: OWNER, fileName: 'passwd', contentType: 'application/pdf', size: data.length, state: 'active', downloads: 0, passwordRequired: false, origin: 'cli' }),
      });

      const result = await fx.service.download(created.token, { clientIp: '198.51.100.9' });
      if (result.status !== 'ok') throw new Error(`download: ${result.status}`);
      expect(result.range).toEqual({ start: 0, end: data.length - 1 });
      expect((await readAll(result.stream)).equals(data)).toBe(true);
      expect(result.info.downloads).toBe(1);

      const audit = await fx.service.audit({ shareId: created.id });
      expect(audit).toEqual([
        { at: START, event: 'share', shareId: created.id, actor: OWNER, fileName: 'passwd', size: data.length, clientIp: '192.0.2.7', detail: 'origin=cli' },
        { at: START, event: 'download', shareId: created.id, fileName: 'passwd', size: data.length, clientIp: '198.51.100.9' },
      ]);

      const database = fx.databaseBytes();
      expect(database.length).toBeGreaterThan(0);
      expect(database.includes(Buffer.from(created.token))).toBe(false);
      expect(database.includes(Buffer.from(created.token, 'base64url'))).toBe(false);
      const files = fx.blobFiles();
      expect(files).toHaveLength(1);
      const stored = readFileSync(files[0] as string);
      expect(stored.length).toBeGreaterThan(data.length);
      expect(stored.includes(Buffer.from('PLAINTEXT-MARKER'))).toBe(false);
      expect(stored.includes(data.subarray(100, 132))).toBe(false);
    });

    it('serves ranges, counts only downloads from byte 0, and answers an unsatisfiable range with the size', async () => {
      const data = content(200_000);
      const created = await fx.service.share(pieces(data), options());
      const middle = await fx.service.download(created.token, { range: { start: 70_000, end: 139_999 } });
      if (middle.status !== 'ok') throw new Error(middle.status);
      expect((await readAll(middle.stream)).equals(data.subarray(70_000, 140_000))).toBe(true);
      expect(middle.info.downloads).toBe(0);

      const tail = await fx.service.download(created.token, { range: { start: 199_990, end: 10_000_000 } });
      if (tail.status !== 'ok') throw new Error(tail.status);
      expect(tail.range).toEqual({ start: 199_990, end: 199_999 });
      expect((await readAll(tail.stream)).equals(data.subarray(199_990))).toBe(true);

      const head = await fx.service.download(created.token, { range: { start: 0, end: 9 }, clientIp: '192.0.2.1' });
      if (head.status !== 'ok') throw new Error(head.status);
      expect((await readAll(head.stream)).equals(data.subarray(0, 10))).toBe(true);
      expect(head.info.downloads).toBe(1);

      for (const range of [{ start: 200_000, end: 200_010 }, { start: 5, end: 4 }, { start: -1, end: 3 }, { start: 0.5, end: 3 }]) {
        expect(await fx.service.download(created.token, { range })).toEqual({ status: 'range-not-satisfiable', size: 200_000 });
      }
      const entries = (await fx.service.audit({ shareId: created.id })).filter((e) => e.event === 'download');
      expect(entries.map((e) => [e.size, e.detail])).toEqual([
        [70_000, 'bytes 70000-139999/200000'],
        [10, 'bytes 199990-199999/200000'],
        [10, 'bytes 0-9/200000'],
      ]);
    });

    it('shares and downloads an empty file', async () => {
      const created = await fx.service.share(Readable.from([]), options({ fileName: 'leer.txt' }));
      expect(created.size).toBe(0);
      const result = await fx.service.download(created.token, {});
      if (result.status !== 'ok') throw new Error(result.status);
      expect((await readAll(result.stream)).length).toBe(0);
      expect(await fx.service.download(created.token, { range: { start: 0, end: 0 } })).toEqual({ status: 'range-not-satisfiable', size: 0 });
    });

    it('tells unknown tokens apart from gone ones only by status', async () => {
      const created = await fx.service.share(pieces(content(1000)), options());
      const unknownToken = randomBytes(32).toString('base64url');
      for (const token of [unknownToken, 'short', `${created.token}x`, '../../etc/passwd', '']) {
        expect(await fx.service.lookup(token)).toEqual({ status: 'unknown' });
        expect(await fx.service.download(token, {})).toEqual({ status: 'unknown' });
        expect(await fx.service.checkPassword(token, 'x')).toBe('wrong');
      }
      // Same secret, other spelling of its padding bits: not a valid token.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const respelled = created.token.slice(0, -1) + alphabet[alphabet.indexOf(created.token.at(-1) as string) | 1];
      expect(Buffer.from(respelled, 'base64url').equals(Buffer.from(created.token, 'base64url'))).toBe(true);
      expect(await fx.service.lookup(respelled)).toEqual({ status: 'unknown' });
      expect(await fx.service.revoke(created.id)).toBe(true);
      expect(await fx.service.lookup(created.token)).toEqual({ status: 'gone' });
    });

    it('rejects invalid options before storing anything', async () => {
      await expectCode(fx.service.share(pieces(content(10)), options({ owner: 'not an address' })), 'INVALID_REQUEST');
      await expectCode(fx.service.share(pieces(content(10)), options({ maxDownloads: 0 })), 'INVALID_REQUEST');
      await expectCode(fx.service.share(pieces(content(10)), options({ expiresIn: -5 })), 'INVALID_REQUEST');
      await expectCode(fx.service.share(pieces(content(10)), options({ password: '' })), 'INVALID_REQUEST');
      expect(fx.blobFiles()).toEqual([]);
      const created = await fx.service.share(pieces(content(10)), options({ owner: '  BauAmt@Stadt.Example ', expiresIn: 365 * DAY }));
      expect(created.expiresAt).toEqual(new Date(START.getTime() + 90 * DAY));
      expect((await fx.service.list({ owner: 'BAUAMT@stadt.example' })).map((s) => s.owner)).toEqual([OWNER]);
    });
  });

  describe('passwords', () => {
    beforeEach(() => {
      fx = serviceFixture({ largeFiles: { passwordAttempts: 3, lockout: '15m' } });
    });

    it('requires the password to download and locks the share after too many wrong ones', async () => {
      const data = content(5000);
      const created = await fx.service.share(pieces(data), options({ password: 'Sommer 2026!' }));
      const lookup = await fx.service.lookup(created.token);
      expect(lookup.status === 'ok' && lookup.info.passwordRequired).toBe(true);
      expect(await fx.service.download(created.token, {})).toEqual({ status: 'password-required' });
      expect(await fx.service.checkPassword(created.token, 'Sommer 2026!')).toBe('ok');
      const granted = await fx.service.download(created.token, { password: 'Sommer 2026!' });
      if (granted.status !== 'ok') throw new Error(granted.status);
      expect((await readAll(granted.stream)).equals(data)).toBe(true);

      expect(await fx.service.checkPassword(created.token, 'sommer 2026!', '203.0.113.5')).toBe('wrong');
      expect(await fx.service.download(created.token, { password: 'winter', clientIp: '203.0.113.5' })).toEqual({ status: 'password-required' });
      expect(await fx.service.checkPassword(created.token, 'herbst', '203.0.113.5')).toBe('locked');
      // Locked: even the right password is refused until the lockout ends.
      expect(await fx.service.checkPassword(created.token, 'Sommer 2026!')).toBe('locked');
      expect(await fx.service.download(created.token, { password: 'Sommer 2026!' })).toEqual({ status: 'locked' });
      fx.advance(15 * 60_000 - 1);
      expect(await fx.service.checkPassword(created.token, 'Sommer 2026!')).toBe('locked');
      fx.advance(1);
      expect(await fx.service.checkPassword(created.token, 'Sommer 2026!')).toBe('ok');

      const events = (await fx.service.audit({ shareId: created.id })).map((e) => `${e.event}${e.clientIp ? `@${e.clientIp}` : ''}`);
      expect(events).toEqual(['share', 'download', 'password-failed@203.0.113.5', 'password-failed@203.0.113.5', 'password-failed@203.0.113.5', 'locked@203.0.113.5']);
      expect(fx.databaseBytes().includes(Buffer.from('Sommer 2026!'))).toBe(false);
    });

    it('lets at most the allowed number of parallel guesses through', async () => {
      const created = await fx.service.share(pieces(content(100)), options({ password: 'richtig' }));
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => fx.service.checkPassword(created.token, `falsch-${i}`)));
      expect(results.filter((r) => r === 'wrong')).toHaveLength(2);
      expect(results.filter((r) => r === 'locked')).toHaveLength(6);
      expect((await fx.service.audit({ shareId: created.id })).filter((e) => e.event === 'password-failed')).toHaveLength(3);
    });

    it('says not-required for a share without password', async () => {
      const created = await fx.service.share(pieces(content(100)), options());
      expect(await fx.service.checkPassword(created.token, 'anything')).toBe('not-required');
    });
  });

  describe('lifetime and limits', () => {
    it('ends a share at its expiry on the injected clock', async () => {
      fx = serviceFixture();
      const created = await fx.service.share(pieces(content(100)), options({ expiresIn: HOUR }));
      fx.advance(HOUR - 1);
      expect((await fx.service.lookup(created.token)).status).toBe('ok');
      fx.advance(1);
      expect(await fx.service.lookup(created.token)).toEqual({ status: 'gone' });
      expect(await fx.service.download(created.token, {})).toEqual({ status: 'gone' });
      expect(await fx.service.list()).toEqual([]);
      expect((await fx.service.list({ includeInactive: true })).map((s) => s.state)).toEqual(['expired']);
    });

    it('enforces the download limit, also against a resumed range after the last download', async () => {
      fx = serviceFixture();
      const data = content(100_000);
      const created = await fx.service.share(pieces(data), options({ maxDownloads: 2 }));
      for (let i = 1; i <= 2; i += 1) {
        const result = await fx.service.download(created.token, {});
        if (result.status !== 'ok') throw new Error(result.status);
        expect((await readAll(result.stream)).equals(data)).toBe(true);
        expect(result.info.downloads).toBe(i);
      }
      expect(await fx.service.download(created.token, {})).toEqual({ status: 'gone' });
      expect(await fx.service.download(created.token, { range: { start: 50_000, end: 99_999 } })).toEqual({ status: 'gone' });
      expect(await fx.service.lookup(created.token)).toEqual({ status: 'gone' });
      expect((await fx.service.list({ includeInactive: true }))[0]).toMatchObject({ state: 'exhausted', downloads: 2, maxDownloads: 2 });
    });

    it('counts simultaneous downloads against the limit exactly', async () => {
      fx = serviceFixture();
      const created = await fx.service.share(pieces(content(1000)), options({ maxDownloads: 3 }));
      const results = await Promise.all(Array.from({ length: 6 }, () => fx.service.download(created.token, {})));
      const ok = results.filter((r) => r.status === 'ok');
      expect(ok).toHaveLength(3);
      expect(results.filter((r) => r.status === 'gone')).toHaveLength(3);
      for (const r of ok) if (r.status === 'ok') await readAll(r.stream);
    });

    it('revokes for the owner or an admin only, and deletes the file at once', async () => {
      fx = serviceFixture();
      const created = await fx.service.share(pieces(content(1000)), options());
      expect(await fx.service.revoke(created.id, 'kasse@stadt.example')).toBe(false);
      expect((await fx.service.lookup(created.token)).status).toBe('ok');
      expect(await fx.service.revoke(created.id, 'BAUAMT@stadt.example')).toBe(true);
      expect(await fx.service.revoke(created.id)).toBe(false);
      expect(await fx.service.revoke('0123456789abcdef0123456789abcdef')).toBe(false);
      expect(await fx.service.lookup(created.token)).toEqual({ status: 'gone' });
      expect(await fx.service.download(created.token, {})).toEqual({ status: 'gone' });
      expect(await fx.blobs.exists(created.id)).toBe(false);
      expect(fx.blobFiles()).toEqual([]);
      const revoke = (await fx.service.audit({ shareId: created.id })).find((e) => e.event === 'revoke');
      expect(revoke).toMatchObject({ actor: OWNER, size: 1000 });
    });

    it('enforces the owner quota over active shares, before and while storing', async () => {
      fx = serviceFixture({ largeFiles: { ownerQuota: '100KB' } });
      const first = await fx.service.share(pieces(content(60 * 1024)), options());
      const announced = await expectCode(fx.service.share(pieces(content(50 * 1024)), options({ expectedSize: 50 * 1024 })), 'QUOTA_EXCEEDED');
      expect(announced.message).toContain(OWNER);
      await expectCode(fx.service.share(pieces(content(50 * 1024)), options()), 'QUOTA_EXCEEDED');
      expect(fx.blobFiles()).toHaveLength(1);
      // Another owner has a quota of their own; a revoked share frees its room.
      await fx.service.share(pieces(content(50 * 1024)), options({ owner: 'kasse@stadt.example' }));
      await fx.service.revoke(first.id);
      await fx.service.share(pieces(content(90 * 1024)), options());
    });

    it('refuses files above largeFiles.maxFileSize and leaves nothing behind', async () => {
      fx = serviceFixture({ largeFiles: { maxFileSize: '64KB' } });
      await expectCode(fx.service.share(pieces(content(70_000)), options({ expectedSize: 70_000 })), 'FILE_TOO_LARGE');
      await expectCode(fx.service.share(pieces(content(70_000)), options()), 'FILE_TOO_LARGE');
      expect(fx.blobFiles()).toEqual([]);
      expect(await fx.service.list({ includeInactive: true })).toEqual([]);
      expect((await fx.service.share(pieces(content(65_536)), options())).size).toBe(65_536);
    });
  });

  describe('audit of other events', () => {
    it('records entries the web edge hands in, and never throws for them', async () => {
      fx = serviceFixture();
      await fx.service.recordAudit({ at: START, event: 'sign-in', actor: OWNER, clientIp: '192.0.2.44' });
      expect(await fx.service.audit()).toEqual([{ at: START, event: 'sign-in', actor: OWNER, clientIp: '192.0.2.44' }]);
      await fx.service.close();
      await expect(fx.service.recordAudit({ at: START, event: 'sign-in' })).resolves.toBeUndefined();
    });
  });

  describe('sweep', () => {
    it('deletes the files of expired and exhausted shares once, and keeps active ones', async () => {
      fx = serviceFixture();
      const active = await fx.service.share(pieces(content(1000)), options({ expiresIn: 10 * DAY }));
      const expiring = await fx.service.share(pieces(content(1000)), options({ expiresIn: DAY }));
      const limited = await fx.service.share(pieces(content(1000)), options({ maxDownloads: 1 }));
      const download = await fx.service.download(limited.token, {});
      if (download.status === 'ok') await readAll(download.stream);
      expect(await fx.service.sweep()).toBe(1);
      fx.advance(DAY);
      expect(await fx.service.sweep()).toBe(1);
      expect(await fx.service.sweep()).toBe(0);
      expect(await fx.blobs.exists(active.id)).toBe(true);
      expect(await fx.blobs.exists(expiring.id)).toBe(false);
      expect(await fx.blobs.exists(limited.id)).toBe(false);
      expect(fx.blobFiles()).toHaveLength(1);
      const expired = (await fx.service.audit()).filter((e) => e.event === 'expire');
      expect(expired.map((e) => [e.shareId, e.detail])).toEqual([
        [limited.id, 'exhausted'],
        [expiring.id, 'expired'],
      ]);
      expect((await fx.service.list({ includeInactive: true })).map((s) => [s.id, s.state]).sort()).toEqual(
        [
          [active.id, 'active'],
          [expiring.id, 'expired'],
          [limited.id, 'exhausted'],
        ].sort(),
      );
    });
  });

  describe('first-download notification', () => {
    it('mails the owner once, on the first download from byte 0', async () => {
      const sent: { to: string; subject: string; text: string }[] = [];
      fx = serviceFixture({ notifier: { send: async (message) => void sent.push(message) } });
      const created = await fx.service.share(pieces(content(50_000)), options({ fileName: 'Statik.pdf' }));
      const range = await fx.service.download(created.token, { range: { start: 100, end: 200 } });
      if (range.status === 'ok') await readAll(range.stream);
      for (let i = 0; i < 2; i += 1) {
        const result = await fx.service.download(created.token, { clientIp: '198.51.100.20' });
        if (result.status === 'ok') await readAll(result.stream);
      }
      await fx.service.close();
      expect(sent).toHaveLength(1);
      expect(sent[0]?.to).toBe(OWNER);
      expect(sent[0]?.subject).toBe('Downloaded: Statik.pdf');
      expect(sent[0]?.text).toContain('198.51.100.20');
      expect(sent[0]?.text).toContain(created.id);
      expect(sent[0]?.text).not.toContain(created.token);
    });

    it('does not break the download when the notifier fails, and honours notifyOnFirstDownload false', async () => {
      let calls = 0;
      fx = serviceFixture({
        notifier: {
          send: async () => {
            calls += 1;
            throw new Error('relay down');
          },
        },
      });
      const data = content(10_000);
      const created = await fx.service.share(pieces(data), options());
      const result = await fx.service.download(created.token, {});
      if (result.status !== 'ok') throw new Error(result.status);
      expect((await readAll(result.stream)).equals(data)).toBe(true);
      const quiet = await fx.service.share(pieces(data), options({ notifyOnFirstDownload: false }));
      const second = await fx.service.download(quiet.token, {});
      if (second.status === 'ok') await readAll(second.stream);
      await fx.service.close();
      expect(calls).toBe(1);
    });
  });
});
