/**
 * The behaviour every HarvestedStore must show (DESIGN rule 6). A store's
 * test file calls harvestedStoreConformance with a factory returning a
 * fresh, empty store; the PostgreSQL store will reuse this unchanged.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { HarvestedRecord, HarvestedStore } from '../../src/keystore/harvested-store.js';

export interface HarvestedStoreFactory {
  /** A new, empty store. */
  open(): Promise<HarvestedStore>;
  /** A second handle on the same data as `store` (another process in production). */
  reopen?(store: HarvestedStore): Promise<HarvestedStore>;
}

let counter = 0;

/** A record with synthetic certificate bytes: the store treats them as opaque. */
export function sampleHarvested(overrides: Partial<HarvestedRecord> = {}): HarvestedRecord {
  counter += 1;
  const certificate = randomBytes(400);
  return {
    address: 'ratsmitglied@partner.example',
    certificate,
    fingerprint: createHash('sha256').update(certificate).digest('hex'),
    subject: `CN=Ratsmitglied ${counter},O=Partner,C=DE`,
    issuer: 'CN=Issuing CA,O=Freistaat,C=DE',
    serial: randomBytes(16).toString('hex').toUpperCase(),
    notBefore: new Date('2026-01-01T00:00:00.000Z'),
    notAfter: new Date('2029-01-01T00:00:00.123Z'),
    capabilities: ['2.16.840.1.101.3.4.1.42', '2.16.840.1.101.3.4.1.2', '1.2.840.113549.1.1.7'],
    source: 'encryption-preference',
    firstSeen: new Date(Date.UTC(2026, 5, 1, 12, 0, 0, counter)),
    lastSeen: new Date(Date.UTC(2026, 6, 1, 12, 0, 0, counter)),
    anchorFingerprint: 'ab'.repeat(32),
    state: 'active',
    ...overrides,
  };
}

export function harvestedStoreConformance(name: string, factory: HarvestedStoreFactory): void {
  describe(`HarvestedStore conformance: ${name}`, () => {
    let store: HarvestedStore;

    beforeEach(async () => {
      store = await factory.open();
    });

    afterEach(async () => {
      await store.close();
    });

    it('returns what was put, byte for byte, to the millisecond, capabilities in order', async () => {
      const record = sampleHarvested();
      await store.put(record);
      expect(await store.get(record.address, record.fingerprint)).toEqual(record);
    });

    it('keeps an empty capability list empty and every source and state', async () => {
      const records = [
        sampleHarvested({ capabilities: [], source: 'signer', state: 'superseded' }),
        sampleHarvested({ source: 'same-address' }),
        sampleHarvested({ capabilities: ['1.2.840.113549.3.7'] }),
      ];
      for (const record of records) await store.put(record);
      for (const record of records) expect(await store.get(record.address, record.fingerprint)).toEqual(record);
    });

    it('returns undefined for an unknown key and empty lists when empty', async () => {
      expect(await store.get('nobody@partner.example', '0'.repeat(64))).toBeUndefined();
      expect(await store.list()).toEqual([]);
      expect(await store.forAddress('nobody@partner.example')).toEqual([]);
    });

    it('replaces the record with the same address and fingerprint', async () => {
      const record = sampleHarvested();
      await store.put(record);
      const updated: HarvestedRecord = { ...record, state: 'superseded', lastSeen: new Date('2027-01-01T00:00:00.001Z'), capabilities: [] };
      await store.put(updated);
      expect(await store.get(record.address, record.fingerprint)).toEqual(updated);
      expect(await store.list()).toHaveLength(1);
    });

    it('keeps one certificate for several addresses as separate records', async () => {
      const first = sampleHarvested({ address: 'a@partner.example' });
      const second = { ...first, address: 'b@partner.example', source: 'signer' as const };
      await store.put(first);
      await store.put(second);
      expect(await store.get('a@partner.example', first.fingerprint)).toEqual(first);
      expect(await store.get('b@partner.example', first.fingerprint)).toEqual(second);
      expect(await store.remove('a@partner.example', first.fingerprint)).toBe(true);
      expect(await store.get('b@partner.example', first.fingerprint)).toEqual(second);
    });

    it('lists by address, then newest notBefore first, then fingerprint', async () => {
      const b = sampleHarvested({ address: 'b@partner.example' });
      const aOld = sampleHarvested({ address: 'a@partner.example', notBefore: new Date('2025-01-01T00:00:00Z') });
      const aNew = sampleHarvested({ address: 'a@partner.example', notBefore: new Date('2026-06-01T00:00:00Z') });
      const aNewTwin = sampleHarvested({ address: 'a@partner.example', notBefore: aNew.notBefore });
      for (const record of [b, aOld, aNewTwin, aNew]) await store.put(record);
      const twins = [aNew.fingerprint, aNewTwin.fingerprint].sort();
      expect((await store.list()).map((r) => r.fingerprint)).toEqual([...twins, aOld.fingerprint, b.fingerprint]);
      expect((await store.forAddress('a@partner.example')).map((r) => r.fingerprint)).toEqual([...twins, aOld.fingerprint]);
    });

    it('finds an address case-insensitively and stores it lower-case', async () => {
      const record = sampleHarvested({ address: 'Rat.Mitglied@Partner.Example' });
      await store.put(record);
      const found = await store.forAddress('RAT.MITGLIED@partner.example');
      expect(found.map((r) => r.fingerprint)).toEqual([record.fingerprint]);
      expect(found[0]?.address).toBe('rat.mitglied@partner.example');
      expect((await store.get(' rat.mitglied@PARTNER.example ', record.fingerprint))?.address).toBe('rat.mitglied@partner.example');
    });

    it('refuses records that break the invariants', async () => {
      await expect(store.put(sampleHarvested({ address: 'no-at-sign' }))).rejects.toThrow(/is not an address/);
      await expect(store.put(sampleHarvested({ fingerprint: 'XYZ' }))).rejects.toThrow(/fingerprint/);
      await expect(store.put(sampleHarvested({ anchorFingerprint: '' }))).rejects.toThrow(/anchorFingerprint/);
      await expect(store.put(sampleHarvested({ certificate: Buffer.alloc(0) }))).rejects.toThrow(/certificate is empty/);
      await expect(store.put(sampleHarvested({ capabilities: ['aes256 cbc'] }))).rejects.toThrow(/not a dotted OID/);
      await expect(store.put(sampleHarvested({ state: 'retired' as never }))).rejects.toThrow(/unknown state/);
      await expect(store.put(sampleHarvested({ source: 'ldap' as never }))).rejects.toThrow(/unknown source/);
      await expect(store.put(sampleHarvested({ lastSeen: new Date(Number.NaN) }))).rejects.toThrow(/lastSeen is not a date/);
      expect(await store.list()).toEqual([]);
    });

    it('removes a record', async () => {
      const record = sampleHarvested();
      await store.put(record);
      expect(await store.remove(record.address, record.fingerprint)).toBe(true);
      expect(await store.remove(record.address, record.fingerprint)).toBe(false);
      expect(await store.get(record.address, record.fingerprint)).toBeUndefined();
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
          const record = sampleHarvested();
          await second.put(record);
          expect(await store.get(record.address, record.fingerprint)).toEqual(record);
          expect(await store.remove(record.address, record.fingerprint)).toBe(true);
          expect(await second.get(record.address, record.fingerprint)).toBeUndefined();
        } finally {
          await second.close();
        }
      });
    }
  });
}
