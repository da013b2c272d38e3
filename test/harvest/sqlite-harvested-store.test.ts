import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SCHEMA_VERSION, openDatabase } from '../../src/keystore/sqlite-database.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { SqliteIdentityStore, identityMigrations } from '../../src/keystore/sqlite-identity-store.js';
import { sampleRecord } from '../keystore/identity-store.conformance.js';
import { tempDir } from '../pki/test-pki.js';
import { harvestedStoreConformance, sampleHarvested } from './harvested-store.conformance.js';

function freshDataDir(): string {
  return path.join(tempDir('siegel-harvest-'), 'data');
}

function mode(file: string): string {
  return (statSync(file).mode & 0o777).toString(8);
}

function pragma(file: string, name: string): unknown {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare(`PRAGMA ${name}`).get()?.[name];
  } finally {
    db.close();
  }
}

harvestedStoreConformance('SqliteHarvestedStore', {
  open: async () => SqliteHarvestedStore.open(freshDataDir()),
  reopen: async (store) => SqliteHarvestedStore.open(path.dirname((store as SqliteHarvestedStore).file)),
});

describe('SqliteHarvestedStore on disk', () => {
  it('creates siegel.db, -wal and -shm with mode 0600 under umask 000, in WAL mode at the shared schema version', async () => {
    const dataDir = freshDataDir();
    const previous = process.umask(0o000);
    let store: SqliteHarvestedStore;
    try {
      store = SqliteHarvestedStore.open(dataDir);
      await store.put(sampleHarvested());
    } finally {
      process.umask(previous);
    }
    try {
      expect(mode(dataDir)).toBe('700');
      for (const suffix of ['', '-wal', '-shm']) {
        const file = path.join(dataDir, `siegel.db${suffix}`);
        expect(existsSync(file)).toBe(true);
        expect({ file, mode: mode(file) }).toEqual({ file, mode: '600' });
      }
      const file = path.join(dataDir, 'siegel.db');
      expect(pragma(file, 'journal_mode')).toBe('wal');
      // Version 2 brought this store; later steps (the large-file exchange) come on top.
      expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
      expect(pragma(file, 'user_version')).toBe(SCHEMA_VERSION);
    } finally {
      await store.close();
    }
  });

  it('holds both stores in one file, used by a "server" and a "CLI" handle pair at once', async () => {
    const dataDir = freshDataDir();
    const serverIdentities = SqliteIdentityStore.open(dataDir);
    const serverHarvest = SqliteHarvestedStore.open(dataDir);
    const cliHarvest = SqliteHarvestedStore.open(dataDir);
    const cliIdentities = SqliteIdentityStore.open(dataDir);
    try {
      expect(new Set([serverIdentities.file, serverHarvest.file, cliHarvest.file, cliIdentities.file]).size).toBe(1);
      const identity = sampleRecord();
      const harvested = sampleHarvested();
      await cliIdentities.put(identity);
      await serverHarvest.put(harvested);
      expect(await serverIdentities.get(identity.id)).toEqual(identity);
      expect(await cliHarvest.get(harvested.address, harvested.fingerprint)).toEqual(harvested);
      const tables = new DatabaseSync(serverHarvest.file, { readOnly: true });
      try {
        const names = tables.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((row) => row.name);
        expect(names).toEqual(expect.arrayContaining(['harvested_certificates', 'identities', 'identity_chain']));
      } finally {
        tables.close();
      }
    } finally {
      for (const store of [serverIdentities, serverHarvest, cliHarvest, cliIdentities]) await store.close();
    }
  });

  it('sees what another process writes while its own handles stay open, and is not blocked by its reader', async () => {
    const dataDir = freshDataDir();
    const identities = SqliteIdentityStore.open(dataDir);
    const harvest = SqliteHarvestedStore.open(dataDir);
    const record = sampleHarvested({ address: 'from-child@partner.example' });
    try {
      await identities.put(sampleRecord({ mailbox: 'poststelle@stadt.example' }));
      // Looked up before (and so cached): the other process's row must still be seen afterwards.
      expect(await harvest.forAddress(record.address)).toEqual([]);
      // The child keeps a read transaction open (a CLI listing) and writes a harvested row.
      const child = spawn(
        process.execPath,
        [
          '-e',
          `const { DatabaseSync } = require('node:sqlite');
           const [file, address, fp, certHex] = process.argv.slice(1);
           const db = new DatabaseSync(file);
           db.exec('PRAGMA busy_timeout = 10000');
           db.exec('BEGIN');
           const n = db.prepare('SELECT count(*) AS n FROM identities').get().n;
           process.stdout.write('reading ' + n + '\\n');
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
           db.exec('COMMIT');
           db.prepare("INSERT INTO harvested_certificates VALUES (?, ?, ?, 'CN=x', 'CN=y', '01', 0, 4102444800000, '', 'signer', 1, 2, ?, 'active')")
             .run(address, fp, Buffer.from(certHex, 'hex'), 'cd'.repeat(32));
           db.close();
           process.stdout.write('written\\n');`,
          harvest.file,
          record.address,
          record.fingerprint,
          record.certificate.toString('hex'),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('reading')) resolve();
        });
        child.on('error', reject);
      });
      expect(output).toContain('reading 1');
      // WAL: our write goes through while the other process reads.
      const started = Date.now();
      await harvest.put(sampleHarvested());
      expect(Date.now() - started).toBeLessThan(300);
      expect(await exited).toBe(0);
      expect(output).toContain('written');
      const seen = await harvest.get(record.address, record.fingerprint);
      expect(seen).toMatchObject({ address: record.address, source: 'signer', state: 'active', capabilities: [], anchorFingerprint: 'cd'.repeat(32) });
      expect(seen?.certificate).toEqual(record.certificate);
      expect((await harvest.forAddress(record.address)).map((r) => r.fingerprint)).toEqual([record.fingerprint]);
    } finally {
      await harvest.close();
      await identities.close();
    }
  });

  it('migrates a database written by the identity store alone (schema 1): the identities survive', async () => {
    const dataDir = freshDataDir();
    // What SqliteIdentityStore.open did before the schemas were composed:
    // openDatabase with the identity steps only, then its (unchanged) put.
    const { db, file } = openDatabase(dataDir, identityMigrations, () => {});
    const OldIdentityStore = SqliteIdentityStore as unknown as new (db: DatabaseSync, file: string) => SqliteIdentityStore;
    const old = new OldIdentityStore(db, file);
    const identity = sampleRecord();
    const pending = sampleRecord({ id: 'pending-1', state: 'pending', certificate: null, chain: [], notBefore: null, notAfter: null });
    await old.put(identity);
    await old.put(pending);
    await old.close();
    expect(pragma(file, 'user_version')).toBe(1);

    const harvest = SqliteHarvestedStore.open(dataDir);
    const identities = SqliteIdentityStore.open(dataDir);
    try {
      expect(pragma(file, 'user_version')).toBe(SCHEMA_VERSION);
      expect(await identities.list()).toEqual([identity, pending]);
      const harvested = sampleHarvested();
      await harvest.put(harvested);
      expect(await harvest.list()).toEqual([harvested]);
    } finally {
      await harvest.close();
      await identities.close();
    }
  });

  it('opens a schema-1 database through the identity store too, migrating it', async () => {
    const dataDir = freshDataDir();
    const { db } = openDatabase(dataDir, identityMigrations, () => {});
    db.close();
    const identities = SqliteIdentityStore.open(dataDir);
    await identities.close();
    expect(pragma(path.join(dataDir, 'siegel.db'), 'user_version')).toBe(SCHEMA_VERSION);
    const harvest = SqliteHarvestedStore.open(dataDir);
    expect(await harvest.list()).toEqual([]);
    await harvest.close();
  });

  it('refuses a database from a newer Siegel', async () => {
    const dataDir = freshDataDir();
    await SqliteHarvestedStore.open(dataDir).close();
    const db = new DatabaseSync(path.join(dataDir, 'siegel.db'));
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => SqliteHarvestedStore.open(dataDir)).toThrow(`schema version ${SCHEMA_VERSION + 1}, newer than this Siegel knows (${SCHEMA_VERSION})`);
  });
});
