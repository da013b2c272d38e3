/**
 * The behaviour every IdentityStore must show (DESIGN rule 6). A store's
 * test file calls identityStoreConformance with a factory that returns a
 * fresh, empty store; the PostgreSQL store will reuse this unchanged.
 */
import { randomBytes } from 'node:crypto';
import type { IdentityRecord, IdentityStore } from '../../src/keystore/identity-store.js';

export interface StoreFactory {
  /** A new, empty store. */
  open(): Promise<IdentityStore>;
  /** A second handle on the same data as `store` (another process in production), if the store has that notion. */
  reopen?(store: IdentityStore): Promise<IdentityStore>;
}

let counter = 0;

/** A record with synthetic bytes: the store treats them as opaque. */
export function sampleRecord(overrides: Partial<IdentityRecord> = {}): IdentityRecord {
  counter += 1;
  const certificate = randomBytes(300);
  return {
    id: randomBytes(32).toString('hex'),
    mailbox: 'poststelle@stadt.example',
    role: 'sign',
    state: 'active',
    certificate,
    chain: [randomBytes(200), randomBytes(210)],
    encryptedKey: randomBytes(120),
    publicKeySha256: randomBytes(32).toString('hex'),
    request: null,
    subject: `CN=Poststelle ${counter},O=Stadt,C=DE`,
    issuer: 'CN=Issuing CA,O=Freistaat,C=DE',
    serial: randomBytes(16).toString('hex').toUpperCase(),
    notBefore: new Date('2026-01-01T00:00:00.000Z'),
    notAfter: new Date('2029-01-01T00:00:00.123Z'),
    createdAt: new Date(Date.UTC(2026, 5, 1, 12, 0, 0, counter)),
    ...overrides,
  };
}

export function identityStoreConformance(name: string, factory: StoreFactory): void {
  describe(`IdentityStore conformance: ${name}`, () => {
    let store: IdentityStore;

    beforeEach(async () => {
      store = await factory.open();
    });

    afterEach(async () => {
      await store.close();
    });

    it('returns what was put, byte for byte and to the millisecond', async () => {
      const record = sampleRecord({ role: 'both' });
      await store.put(record);
      expect(await store.get(record.id)).toEqual(record);
    });

    it('returns undefined for an unknown id and an empty list when empty', async () => {
      expect(await store.get('0'.repeat(64))).toBeUndefined();
      expect(await store.list()).toEqual([]);
      expect(await store.forMailbox('nobody@stadt.example')).toEqual([]);
    });

    it('keeps a pending record without certificate or dates, with its request', async () => {
      const pending = sampleRecord({
        id: 'pending-4f1c2e',
        state: 'pending',
        role: 'encrypt',
        certificate: null,
        chain: [],
        request: randomBytes(400),
        issuer: null,
        serial: null,
        notBefore: null,
        notAfter: null,
      });
      await store.put(pending);
      expect(await store.get(pending.id)).toEqual(pending);
    });

    it('refuses an active or retired record without a certificate', async () => {
      await expect(store.put(sampleRecord({ state: 'active', certificate: null }))).rejects.toThrow(/needs a certificate/);
      await expect(store.put(sampleRecord({ state: 'retired', certificate: null }))).rejects.toThrow(/needs a certificate/);
    });

    it('replaces a record with the same id, chain included', async () => {
      const record = sampleRecord();
      await store.put(record);
      const updated = { ...record, state: 'retired' as const, chain: [randomBytes(50)] };
      await store.put(updated);
      expect(await store.get(record.id)).toEqual(updated);
      expect(await store.list()).toHaveLength(1);
      const noChain = { ...updated, chain: [] };
      await store.put(noChain);
      expect(await store.get(record.id)).toEqual(noChain);
    });

    it('keeps the chain order', async () => {
      const chain = Array.from({ length: 5 }, (_, i) => Buffer.alloc(10 + i, i));
      const record = sampleRecord({ chain });
      await store.put(record);
      expect((await store.get(record.id))?.chain).toEqual(chain);
    });

    it('lists by mailbox, then creation time, then id', async () => {
      const b1 = sampleRecord({ mailbox: 'b@stadt.example', createdAt: new Date('2026-02-01T00:00:00Z') });
      const a2 = sampleRecord({ mailbox: 'a@stadt.example', createdAt: new Date('2026-03-01T00:00:00Z') });
      const a1 = sampleRecord({ mailbox: 'a@stadt.example', createdAt: new Date('2026-01-01T00:00:00Z') });
      const a1bis = sampleRecord({ mailbox: 'a@stadt.example', createdAt: a1.createdAt, id: `${a1.id}z` });
      for (const record of [b1, a2, a1bis, a1]) await store.put(record);
      expect((await store.list()).map((r) => r.id)).toEqual([a1.id, a1bis.id, a2.id, b1.id]);
    });

    it('finds a mailbox case-insensitively and stores it lower-case', async () => {
      const mine = sampleRecord({ mailbox: 'Poststelle@Stadt.Example' });
      const other = sampleRecord({ mailbox: 'info@stadt.example' });
      await store.put(mine);
      await store.put(other);
      const found = await store.forMailbox('POSTSTELLE@stadt.example');
      expect(found.map((r) => r.id)).toEqual([mine.id]);
      expect(found[0]?.mailbox).toBe('poststelle@stadt.example');
    });

    it('finds records by public key hash', async () => {
      const publicKeySha256 = randomBytes(32).toString('hex');
      const pending = sampleRecord({ id: 'pending-1', state: 'pending', certificate: null, publicKeySha256 });
      const issued = sampleRecord({ publicKeySha256 });
      await store.put(pending);
      await store.put(issued);
      await store.put(sampleRecord());
      expect((await store.forPublicKey(publicKeySha256)).map((r) => r.id).sort()).toEqual([issued.id, pending.id].sort());
    });

    it('removes a record and its chain', async () => {
      const record = sampleRecord();
      await store.put(record);
      expect(await store.remove(record.id)).toBe(true);
      expect(await store.remove(record.id)).toBe(false);
      expect(await store.get(record.id)).toBeUndefined();
      const again = { ...record, chain: [] };
      await store.put(again);
      expect((await store.get(record.id))?.chain).toEqual([]);
    });

    it('is closed idempotently and refuses use afterwards', async () => {
      const closing = await factory.open();
      await closing.close();
      await closing.close();
      await expect(closing.list()).rejects.toThrow();
    });

    if (factory.reopen) {
      const reopen = factory.reopen;
      it('shows records written through another handle (CLI while the server runs)', async () => {
        const second = await reopen(store);
        try {
          const record = sampleRecord();
          await second.put(record);
          expect(await store.get(record.id)).toEqual(record);
          expect(await store.remove(record.id)).toBe(true);
          expect(await second.get(record.id)).toBeUndefined();
        } finally {
          await second.close();
        }
      });
    }
  });
}
