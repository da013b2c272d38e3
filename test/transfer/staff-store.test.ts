/**
 * StaffStore on siegel.db: the rules the staff area relies on, checked on
 * the store itself (single-use, expiring sign-in links; sessions; upload
 * records and the quota's pending bytes; upload requests; the sweep).
 * Written against the interface, so another implementation can run it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { secretHash, type StaffStore } from '../../src/transfer/staff-records.js';
import { SqliteStaffStore } from '../../src/transfer/sqlite-staff-store.js';

const t0 = new Date('2026-11-23T09:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

describe('SqliteStaffStore', () => {
  let dir: string;
  let store: StaffStore;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'siegel-staff-store-'));
    store = SqliteStaffStore.open(dir);
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses a sign-in link once and never after it expired', () => {
    store.saveSignInLink(secretHash('link-a'), 'a@stadt.example', at(60_000));
    store.saveSignInLink(secretHash('link-b'), 'b@stadt.example', at(60_000));
    expect(store.consumeSignInLink(secretHash('link-a'), at(1000))).toBe('a@stadt.example');
    expect(store.consumeSignInLink(secretHash('link-a'), at(2000))).toBeUndefined();
    expect(store.consumeSignInLink(secretHash('link-b'), at(60_000))).toBeUndefined();
    expect(store.consumeSignInLink(secretHash('unknown'), at(0))).toBeUndefined();
  });

  it('keeps sessions until they expire or are deleted', () => {
    store.saveSession(secretHash('s1'), { address: 'a@stadt.example', createdAt: t0, expiresAt: at(1000) });
    store.saveSession(secretHash('s2'), { address: 'b@stadt.example', createdAt: t0, expiresAt: at(1000) });
    expect(store.session(secretHash('s1'), at(999))?.address).toBe('a@stadt.example');
    expect(store.session(secretHash('s1'), at(1000))).toBeUndefined();
    store.deleteSession(secretHash('s2'));
    expect(store.session(secretHash('s2'), at(0))).toBeUndefined();
  });

  it('counts unfinished uploads for the quota and keeps their sealed parts opaque', () => {
    const base = { owner: 'a@stadt.example', createdAt: t0, expiresAt: at(86_400_000), sealedOptions: Buffer.from([1, 2, 3]) };
    store.saveUpload(secretHash('u1'), { ...base, blobId: 'upload-1', size: 100 });
    store.saveUpload(secretHash('u2'), { ...base, blobId: 'upload-2', size: 50, requestId: 'r1' });
    store.saveUpload(secretHash('u3'), { ...base, owner: 'b@stadt.example', blobId: 'upload-3', size: 7 });
    expect(store.pendingBytes('a@stadt.example')).toBe(150);
    store.setUploadResult(secretHash('u1'), Buffer.from([9]));
    expect(store.pendingBytes('a@stadt.example')).toBe(50);
    expect(store.upload(secretHash('u1'))).toMatchObject({ blobId: 'upload-1', size: 100, sealedResult: Buffer.from([9]) });
    expect(store.upload(secretHash('u2'))).toMatchObject({ requestId: 'r1', sealedOptions: Buffer.from([1, 2, 3]) });
    expect(store.upload(secretHash('u2'))?.sealedResult).toBeUndefined();
    store.deleteUpload(secretHash('u2'));
    expect(store.upload(secretHash('u2'))).toBeUndefined();
  });

  it('lists, counts and closes upload requests of their owner only', () => {
    store.saveRequest(secretHash('r-token'), { id: 'r1', owner: 'a@stadt.example', partner: 'p@partner.example', note: 'Pläne', createdAt: t0, expiresAt: at(1000) });
    store.countRequestFile('r1');
    store.countRequestFile('r1');
    expect(store.requestByToken(secretHash('r-token'))).toMatchObject({ id: 'r1', partner: 'p@partner.example', note: 'Pläne', files: 2 });
    expect(store.requests('a@stadt.example')).toHaveLength(1);
    expect(store.requests('b@stadt.example')).toHaveLength(0);
    expect(store.closeRequest('r1', 'b@stadt.example', at(10))).toBe(false);
    expect(store.closeRequest('r1', 'a@stadt.example', at(10))).toBe(true);
    expect(store.closeRequest('r1', 'a@stadt.example', at(20))).toBe(false);
    expect(store.requestByToken(secretHash('r-token'))?.closedAt).toEqual(at(10));
  });

  it('sweeps expired links, sessions and uploads and names the blobs to delete', () => {
    store.saveSignInLink(secretHash('old-link'), 'a@stadt.example', at(10));
    store.saveSession(secretHash('old-session'), { address: 'a@stadt.example', createdAt: t0, expiresAt: at(10) });
    const base = { owner: 'a@stadt.example', createdAt: t0, sealedOptions: Buffer.from([1]), size: 1 };
    store.saveUpload(secretHash('old-upload'), { ...base, blobId: 'upload-old', expiresAt: at(10) });
    store.saveUpload(secretHash('new-upload'), { ...base, blobId: 'upload-new', expiresAt: at(1_000_000) });
    expect(store.sweep(at(100))).toEqual(['upload-old']);
    expect(store.upload(secretHash('new-upload'))).toBeDefined();
    expect(store.consumeSignInLink(secretHash('old-link'), at(0))).toBeUndefined();
  });
});
