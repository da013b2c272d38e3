/**
 * SqliteIssuerStore: the conformance suite on siegel.db, schema step 6
 * (issuer_certificates) reached from the previous schema without losing a
 * row, a database from a newer Siegel refused, and a closed store failing
 * with the catalog error rather than a raw SQLite one.
 */
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SiegelError } from '../../src/errors.js';
import { SCHEMA_VERSION, openDatabase, schemaMigrations } from '../../src/keystore/sqlite-database.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { SqliteIdentityStore } from '../../src/keystore/sqlite-identity-store.js';
import { FRESH_MS } from '../../src/keystore/read-cache.js';
import { SqliteIssuerStore } from '../../src/keystore/sqlite-issuer-store.js';
import { createRootCa, issueCa } from '../../src/pki/generate.js';
import { sampleRecord } from '../keystore/identity-store.conformance.js';
import { tempDir } from '../pki/test-pki.js';
import { sampleHarvested } from './harvested-store.conformance.js';
import { issuerStoreConformance } from './issuer-store.conformance.js';

const ISSUER_STEP = 6;

function freshDataDir(): string {
  return path.join(tempDir('siegel-issuers-'), 'data');
}

function userVersion(file: string): number {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Number(db.prepare('PRAGMA user_version').get()?.user_version);
  } finally {
    db.close();
  }
}

issuerStoreConformance('SqliteIssuerStore', {
  open: async (options) => SqliteIssuerStore.open(freshDataDir(), () => {}, options),
  reopen: async (store) => SqliteIssuerStore.open(path.dirname((store as SqliteIssuerStore).file)),
});

describe('SqliteIssuerStore in siegel.db', () => {
  let issuing: Buffer;
  let second: Buffer;
  const at = new Date('2027-01-01T00:00:00Z');

  beforeAll(async () => {
    const root = await createRootCa({ subject: [['CN', 'Migration Root']], keySpec: 'p256' });
    issuing = (await issueCa(root, { subject: [['CN', 'Migration Issuing CA']], keySpec: 'p256' })).certificate;
    second = (await issueCa(root, { subject: [['CN', 'Second Issuing CA']], keySpec: 'p256' })).certificate;
  });

  it('is schema step 6, the newest', () => {
    expect(SCHEMA_VERSION).toBe(ISSUER_STEP);
    expect(schemaMigrations.at(-1)?.version).toBe(ISSUER_STEP);
    expect(schemaMigrations.at(-1)?.sql).toContain('CREATE TABLE issuer_certificates');
  });

  it('migrates a database of the previous schema (5): identities and harvested certificates survive, issuers can be kept', async () => {
    const dataDir = freshDataDir();
    // What the Siegel before this step left: the shared schema up to step 5, with rows written by its stores
    // (their tables are untouched by step 6, so today's store classes write them as those did).
    const previous = schemaMigrations.filter((m) => m.version < ISSUER_STEP);
    const OldIdentityStore = SqliteIdentityStore as unknown as new (db: DatabaseSync, file: string) => SqliteIdentityStore;
    const OldHarvestedStore = SqliteHarvestedStore as unknown as new (db: DatabaseSync, file: string) => SqliteHarvestedStore;
    const identity = sampleRecord();
    const harvested = sampleHarvested({ source: 'imported' });
    const forIdentities = openDatabase(dataDir, previous, () => {});
    const oldIdentities = new OldIdentityStore(forIdentities.db, forIdentities.file);
    await oldIdentities.put(identity);
    await oldIdentities.close();
    const forHarvest = openDatabase(dataDir, previous, () => {});
    const oldHarvest = new OldHarvestedStore(forHarvest.db, forHarvest.file);
    await oldHarvest.put(harvested);
    await oldHarvest.close();
    const file = forHarvest.file;
    expect(userVersion(file)).toBe(ISSUER_STEP - 1);

    // The issuer store opens first (as `siegel certs import` would): it brings the file to step 6.
    const issuers = SqliteIssuerStore.open(dataDir);
    const identities = SqliteIdentityStore.open(dataDir);
    const harvest = SqliteHarvestedStore.open(dataDir);
    try {
      expect(userVersion(file)).toBe(SCHEMA_VERSION);
      expect(await identities.list()).toEqual([identity]);
      expect(await harvest.list()).toEqual([harvested]);
      expect(await issuers.count()).toBe(0);
      expect(await issuers.put(issuing, at)).toBe('added');
      expect(await issuers.count()).toBe(1);
    } finally {
      await issuers.close();
      await identities.close();
      await harvest.close();
    }
  });

  it('refuses a database from a newer Siegel', async () => {
    const dataDir = freshDataDir();
    await SqliteIssuerStore.open(dataDir).close();
    const db = new DatabaseSync(path.join(dataDir, 'siegel.db'));
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => SqliteIssuerStore.open(dataDir)).toThrow(`schema version ${SCHEMA_VERSION + 1}, newer than this Siegel knows (${SCHEMA_VERSION})`);
  });

  it('shares the file with the harvested store, a "CLI" writing while the "gateway" reads', async () => {
    const dataDir = freshDataDir();
    const gateway = SqliteIssuerStore.open(dataDir);
    const cli = SqliteIssuerStore.open(dataDir);
    const harvest = SqliteHarvestedStore.open(dataDir);
    try {
      const subject = new X509Certificate(issuing).subject;
      expect(await gateway.forSubject(subject)).toEqual([]);
      await cli.put(issuing, at);
      expect((await gateway.forSubject(subject))[0]?.equals(issuing)).toBe(true);
      expect(gateway.file).toBe(harvest.file);
    } finally {
      await gateway.close();
      await cli.close();
      await harvest.close();
    }
  });

  it('fails with STORAGE_FAILED once closed, which the revocation look-up logs and goes on from', async () => {
    const store = SqliteIssuerStore.open(freshDataDir());
    await store.close();
    const error = await store.forSubject('CN=x').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SiegelError);
    expect((error as SiegelError).code).toBe('STORAGE_FAILED');
    expect((error as SiegelError).message).toContain('issuer certificate store is closed');
  });

  it('writes a certificate again that the bound evicted, although it answered it from memory before', async () => {
    const store = SqliteIssuerStore.open(freshDataDir(), () => {}, { limit: 1 });
    try {
      expect(await store.put(issuing, at)).toBe('added');
      expect(await store.put(issuing, at)).toBe('known');
      expect(await store.put(second, at)).toBe('added'); // evicts the first
      expect(await store.put(issuing, at)).toBe('added');
      expect(await store.forSubject(new X509Certificate(issuing).subject.split('\n').reverse().join(','))).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('answers a repeated put from memory, and sees a row another process removed', async () => {
    const dataDir = freshDataDir();
    const store = SqliteIssuerStore.open(dataDir);
    try {
      expect(await store.put(issuing, at)).toBe('added');
      expect(await store.put(issuing, at)).toBe('known');
      // Another process (a CLI, a second gateway) deletes it: data_version changes, the memory is dropped
      // once the version is read again (at most FRESH_MS later).
      const other = new DatabaseSync(store.file);
      other.exec('DELETE FROM issuer_certificates');
      other.close();
      await new Promise((resolve) => setTimeout(resolve, FRESH_MS));
      expect(await store.put(issuing, at)).toBe('added');
      expect(await store.count()).toBe(1);
    } finally {
      await store.close();
    }
  });
});

