/**
 * The behaviour every TransferStore must show (DESIGN rule 6). A store's
 * test file calls transferStoreConformance with a factory for fresh, empty
 * stores; the PostgreSQL store will reuse this unchanged. Where the store
 * decides "active" itself (quota, download counting, sweep candidates), the
 * suite checks it agrees with shareState().
 */
import { createHash, randomBytes } from 'node:crypto';
import { shareState } from '../../src/transfer/share-state.js';
import type { ShareRecord, TransferStore } from '../../src/transfer/transfer-store.js';

export interface TransferStoreFactory {
  open(): Promise<TransferStore>;
  /** A second handle on the same data (another process in production). */
  reopen?(store: TransferStore): Promise<TransferStore>;
}

const NOW = new Date('2026-11-23T10:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NO_QUOTA = { limit: Number.MAX_SAFE_INTEGER, now: NOW };

let counter = 0;

export function sampleShare(overrides: Partial<ShareRecord> = {}): ShareRecord {
  counter += 1;
  return {
    id: randomBytes(16).toString('hex'),
    tokenHash: createHash('sha256').update(randomBytes(32)).digest(),
    owner: 'bauamt@stadt.example',
    fileName: `Plan ${counter} – Straße.pdf`,
    contentType: 'application/pdf',
    size: 1000 * counter,
    sha256: randomBytes(32).toString('hex'),
    origin: 'cli',
    createdAt: new Date(NOW.getTime() - HOUR + counter),
    expiresAt: new Date(NOW.getTime() + 14 * DAY),
    downloads: 0,
    maxDownloads: null,
    passwordHash: null,
    notifyOnFirstDownload: true,
    failedAttempts: 0,
    lockedUntil: null,
    revokedAt: null,
    blobDeletedAt: null,
    ...overrides,
  };
}

export function transferStoreConformance(name: string, factory: TransferStoreFactory): void {
  describe(`TransferStore conformance: ${name}`, () => {
    let store: TransferStore;

    beforeEach(async () => {
      store = await factory.open();
    });

    afterEach(async () => {
      await store.close();
    });

    it('returns what was inserted, by id and by token hash, to the millisecond', async () => {
      const record = sampleShare({ maxDownloads: 3, passwordHash: '$scrypt$N=16384,r=8,p=1$c2FsdA==$aGFzaA==', origin: 'offload', notifyOnFirstDownload: false });
      expect(await store.insertShare(record, NO_QUOTA)).toBe(true);
      expect(await store.get(record.id)).toEqual(record);
      expect(await store.findByTokenHash(record.tokenHash)).toEqual(record);
      expect(await store.get('0'.repeat(32))).toBeUndefined();
      expect(await store.findByTokenHash(Buffer.alloc(32))).toBeUndefined();
    });

    it('refuses a second share with the same id or token hash', async () => {
      const record = sampleShare();
      await store.insertShare(record, NO_QUOTA);
      await expect(store.insertShare(sampleShare({ id: record.id }), NO_QUOTA)).rejects.toThrow();
      await expect(store.insertShare(sampleShare({ tokenHash: record.tokenHash }), NO_QUOTA)).rejects.toThrow();
      expect(await store.list()).toHaveLength(1);
    });

    it('lists newest first, all states, optionally by owner', async () => {
      const a = sampleShare({ createdAt: new Date(NOW.getTime() - 3 * HOUR) });
      const b = sampleShare({ createdAt: new Date(NOW.getTime() - 2 * HOUR), owner: 'kasse@stadt.example', revokedAt: NOW });
      const c = sampleShare({ createdAt: new Date(NOW.getTime() - HOUR), expiresAt: new Date(NOW.getTime() - 1) });
      for (const r of [a, b, c]) await store.insertShare(r, NO_QUOTA);
      expect((await store.list()).map((r) => r.id)).toEqual([c.id, b.id, a.id]);
      expect((await store.list({ owner: 'bauamt@stadt.example' })).map((r) => r.id)).toEqual([c.id, a.id]);
      expect(await store.list({ owner: 'nobody@stadt.example' })).toEqual([]);
    });

    it('sums only active shares of the owner, agreeing with shareState', async () => {
      const records = [
        sampleShare({ size: 100 }),
        sampleShare({ size: 200, owner: 'other@stadt.example' }),
        sampleShare({ size: 400, revokedAt: NOW }),
        sampleShare({ size: 800, expiresAt: NOW }),
        sampleShare({ size: 1600, maxDownloads: 2, downloads: 2 }),
        sampleShare({ size: 3200, maxDownloads: 2, downloads: 1 }),
        sampleShare({ size: 6400, blobDeletedAt: NOW }),
      ];
      for (const r of records) await store.insertShare(r, NO_QUOTA);
      const expected = records.filter((r) => r.owner === 'bauamt@stadt.example' && shareState(r, NOW) === 'active').reduce((sum, r) => sum + r.size, 0);
      expect(expected).toBe(3300);
      expect(await store.activeBytes('bauamt@stadt.example', NOW)).toBe(expected);
      expect(await store.activeBytes('nobody@stadt.example', NOW)).toBe(0);
    });

    it('inserts only within the quota, counting active shares', async () => {
      await store.insertShare(sampleShare({ size: 600 }), NO_QUOTA);
      await store.insertShare(sampleShare({ size: 5000, expiresAt: NOW }), NO_QUOTA);
      const quota = { limit: 1000, now: NOW };
      const tooBig = sampleShare({ size: 401 });
      expect(await store.insertShare(tooBig, quota)).toBe(false);
      expect(await store.get(tooBig.id)).toBeUndefined();
      expect(await store.insertShare(sampleShare({ size: 400 }), quota)).toBe(true);
      expect(await store.insertShare(sampleShare({ size: 0 }), quota)).toBe(true);
      expect(await store.insertShare(sampleShare({ size: 1 }), quota)).toBe(false);
      expect(await store.insertShare(sampleShare({ size: 1, owner: 'other@stadt.example' }), quota)).toBe(true);
    });

    it('counts downloads up to the limit and never for an inactive share', async () => {
      const limited = sampleShare({ maxDownloads: 2 });
      const revoked = sampleShare({ revokedAt: NOW });
      const expired = sampleShare({ expiresAt: NOW });
      for (const r of [limited, revoked, expired]) await store.insertShare(r, NO_QUOTA);
      expect(await store.countDownload(limited.id, NOW)).toBe(1);
      expect(await store.countDownload(limited.id, NOW)).toBe(2);
      expect(await store.countDownload(limited.id, NOW)).toBeUndefined();
      expect((await store.get(limited.id))?.downloads).toBe(2);
      expect(shareState((await store.get(limited.id)) as ShareRecord, NOW)).toBe('exhausted');
      expect(await store.countDownload(revoked.id, NOW)).toBeUndefined();
      expect(await store.countDownload(expired.id, NOW)).toBeUndefined();
      expect(await store.countDownload('f'.repeat(32), NOW)).toBeUndefined();
    });

    it('reserves password attempts, locks after the last one, and starts afresh when the lock ran out', async () => {
      const record = sampleShare();
      await store.insertShare(record, NO_QUOTA);
      const policy = { maxAttempts: 3, lockoutMs: 15 * 60_000 };
      expect(await store.reservePasswordAttempt(record.id, NOW, policy)).toEqual({ status: 'allowed', locksNow: false, lockedUntil: null });
      expect(await store.reservePasswordAttempt(record.id, NOW, policy)).toEqual({ status: 'allowed', locksNow: false, lockedUntil: null });
      const until = new Date(NOW.getTime() + policy.lockoutMs);
      expect(await store.reservePasswordAttempt(record.id, NOW, policy)).toEqual({ status: 'allowed', locksNow: true, lockedUntil: until });
      expect(await store.reservePasswordAttempt(record.id, new Date(until.getTime() - 1), policy)).toEqual({ status: 'locked', until });
      const later = new Date(until.getTime() + 1);
      expect(await store.reservePasswordAttempt(record.id, later, policy)).toEqual({ status: 'allowed', locksNow: false, lockedUntil: null });
      expect((await store.get(record.id))?.failedAttempts).toBe(1);
      await store.clearPasswordFailures(record.id);
      expect(await store.get(record.id)).toMatchObject({ failedAttempts: 0, lockedUntil: null });
      expect(await store.reservePasswordAttempt('e'.repeat(32), NOW, policy)).toBeUndefined();
    });

    it('revokes once, and only for the right owner when one is given', async () => {
      const record = sampleShare();
      await store.insertShare(record, NO_QUOTA);
      expect(await store.revoke(record.id, NOW, 'kasse@stadt.example')).toBe(false);
      expect((await store.get(record.id))?.revokedAt).toBeNull();
      expect(await store.revoke(record.id, NOW, 'bauamt@stadt.example')).toBe(true);
      expect(await store.revoke(record.id, NOW)).toBe(false);
      expect((await store.get(record.id))?.revokedAt).toEqual(NOW);
      expect(await store.revoke('d'.repeat(32), NOW)).toBe(false);
    });

    it('names exactly the inactive shares with a blob as sweep candidates, and marks deletion once', async () => {
      const records = [
        sampleShare(),
        sampleShare({ revokedAt: NOW }),
        sampleShare({ expiresAt: new Date(NOW.getTime() - DAY) }),
        sampleShare({ expiresAt: NOW }),
        sampleShare({ maxDownloads: 1, downloads: 1 }),
        sampleShare({ expiresAt: new Date(NOW.getTime() - DAY), blobDeletedAt: NOW }),
      ];
      for (const r of records) await store.insertShare(r, NO_QUOTA);
      const expected = records.filter((r) => r.blobDeletedAt === null && shareState(r, NOW) !== 'active').map((r) => r.id);
      const candidates = await store.sweepCandidates(NOW, 100);
      expect(candidates.map((r) => r.id).sort()).toEqual([...expected].sort());
      expect(candidates).toHaveLength(4);
      expect(candidates[0]?.id).toBe(records[2]?.id);
      expect(await store.sweepCandidates(NOW, 2)).toHaveLength(2);
      expect(await store.markBlobDeleted(records[1]!.id, NOW)).toBe(true);
      expect(await store.markBlobDeleted(records[1]!.id, NOW)).toBe(false);
      expect(await store.sweepCandidates(NOW, 100)).toHaveLength(3);
    });

    it('keeps the audit log in order, filters by share and time, and limits to the newest', async () => {
      const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);
      await store.appendAudit({ at: at(0), event: 'share', shareId: 'a', actor: 'bauamt@stadt.example', fileName: 'Plan.pdf', size: 42, clientIp: '192.0.2.1', detail: 'origin=cli' });
      await store.appendAudit({ at: at(1), event: 'download', shareId: 'a', size: 42, clientIp: '2001:db8::1' });
      await store.appendAudit({ at: at(2), event: 'share', shareId: 'b' });
      await store.appendAudit({ at: at(3), event: 'password-failed', shareId: 'a' });
      const all = await store.audit();
      expect(all.map((e) => e.event)).toEqual(['share', 'download', 'share', 'password-failed']);
      expect(all[0]).toEqual({ at: at(0), event: 'share', shareId: 'a', actor: 'bauamt@stadt.example', fileName: 'Plan.pdf', size: 42, clientIp: '192.0.2.1', detail: 'origin=cli' });
      expect(all[2]).toEqual({ at: at(2), event: 'share', shareId: 'b' });
      expect((await store.audit({ shareId: 'a' })).map((e) => e.at)).toEqual([at(0), at(1), at(3)]);
      expect((await store.audit({ since: at(2) })).map((e) => e.event)).toEqual(['share', 'password-failed']);
      expect((await store.audit({ limit: 2 })).map((e) => e.at)).toEqual([at(2), at(3)]);
      expect((await store.audit({ shareId: 'a', since: at(1), limit: 1 })).map((e) => e.at)).toEqual([at(3)]);
    });

    if (factory.reopen) {
      const reopen = factory.reopen;
      it('shows a second handle the same data and counters', async () => {
        const record = sampleShare({ maxDownloads: 1 });
        await store.insertShare(record, NO_QUOTA);
        const other = await reopen(store);
        try {
          expect(await other.countDownload(record.id, NOW)).toBe(1);
          expect(await store.countDownload(record.id, NOW)).toBeUndefined();
          await other.appendAudit({ at: NOW, event: 'download', shareId: record.id });
          expect(await store.audit({ shareId: record.id })).toHaveLength(1);
        } finally {
          await other.close();
        }
      });
    }
  });
}
