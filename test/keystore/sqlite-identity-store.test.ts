import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SiegelError } from '../../src/errors.js';
import { FRESH_MS } from '../../src/keystore/read-cache.js';
import { SCHEMA_VERSION } from '../../src/keystore/sqlite-database.js';
import { SqliteIdentityStore } from '../../src/keystore/sqlite-identity-store.js';
import { tempDir } from '../pki/test-pki.js';
import { identityStoreConformance, sampleRecord } from './identity-store.conformance.js';

function freshDataDir(): string {
  return path.join(tempDir('siegel-sqlite-'), 'data');
}

identityStoreConformance('SqliteIdentityStore', {
  open: async () => SqliteIdentityStore.open(freshDataDir()),
  reopen: async (store) => SqliteIdentityStore.open(path.dirname((store as SqliteIdentityStore).file)),
});

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

describe('SqliteIdentityStore on disk', () => {
  it('creates the data dir 0700 and database, -wal and -shm 0600 even under umask 000', async () => {
    const dataDir = freshDataDir();
    const previous = process.umask(0o000);
    let store: SqliteIdentityStore;
    try {
      store = SqliteIdentityStore.open(dataDir);
      await store.put(sampleRecord());
    } finally {
      process.umask(previous);
    }
    try {
      expect(mode(dataDir)).toBe(0o700);
      for (const suffix of ['', '-wal', '-shm']) {
        const file = path.join(dataDir, `siegel.db${suffix}`);
        expect(existsSync(file)).toBe(true);
        expect({ file, mode: mode(file).toString(8) }).toEqual({ file, mode: '600' });
      }
    } finally {
      await store.close();
    }
  });

  it('uses WAL mode and a versioned schema', async () => {
    const dataDir = freshDataDir();
    const store = SqliteIdentityStore.open(dataDir);
    await store.close();
    const db = new DatabaseSync(path.join(dataDir, 'siegel.db'));
    try {
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual(expect.objectContaining({ journal_mode: 'wal' }));
      expect(db.prepare('PRAGMA user_version').get()).toEqual(expect.objectContaining({ user_version: SCHEMA_VERSION }));
      db.exec('PRAGMA user_version = 99');
    } finally {
      db.close();
    }
    let error: unknown;
    try {
      SqliteIdentityStore.open(dataDir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SiegelError);
    expect((error as SiegelError).code).toBe('STORAGE_FAILED');
    expect((error as SiegelError).message).toMatch(new RegExp(`schema version 99, newer than this Siegel knows \\(${SCHEMA_VERSION}\\); upgrade Siegel`));
  });

  it('keeps data across reopening', async () => {
    const dataDir = freshDataDir();
    const record = sampleRecord();
    const first = SqliteIdentityStore.open(dataDir);
    await first.put(record);
    await first.close();
    const second = SqliteIdentityStore.open(dataDir);
    expect(await second.get(record.id)).toEqual(record);
    await second.close();
  });


  it('sees identities another process adds or removes while it runs (the per-mailbox cache follows the database)', async () => {
    const dataDir = freshDataDir();
    const gateway = SqliteIdentityStore.open(dataDir);
    const cli = SqliteIdentityStore.open(dataDir);
    try {
      expect(await gateway.forMailbox('poststelle@stadt.example')).toEqual([]);
      const record = sampleRecord();
      await cli.put(record);
      expect((await gateway.forMailbox('Poststelle@stadt.example')).map((r) => r.id)).toEqual([record.id]);
      // Asked again without a change: the same answer (from the cache), and a caller's edit of the array does not stick.
      const again = await gateway.forMailbox('poststelle@stadt.example');
      again.length = 0;
      expect((await gateway.forMailbox('poststelle@stadt.example')).map((r) => r.id)).toEqual([record.id]);
      await cli.remove(record.id);
      expect(await gateway.forMailbox('poststelle@stadt.example')).toEqual([]);
      // Its own writes too.
      await gateway.put(record);
      expect((await gateway.forMailbox('poststelle@stadt.example')).map((r) => r.id)).toEqual([record.id]);
    } finally {
      await gateway.close();
      await cli.close();
    }
  });
  it('sees a commit of a connection outside its stores (another process) within FRESH_MS', async () => {
    const dataDir = freshDataDir();
    const gateway = SqliteIdentityStore.open(dataDir);
    const other = new DatabaseSync(gateway.file);
    try {
      const record = sampleRecord();
      await gateway.put(record);
      expect((await gateway.forMailbox('poststelle@stadt.example')).map((r) => r.id)).toEqual([record.id]);
      other.exec('DELETE FROM identity_chain; DELETE FROM identities');
      await new Promise((resolve) => setTimeout(resolve, FRESH_MS));
      expect(await gateway.forMailbox('poststelle@stadt.example')).toEqual([]);
    } finally {
      other.close();
      await gateway.close();
    }
  });
  it('fails once closed, also for an address it answered a moment before', async () => {
    const store = SqliteIdentityStore.open(freshDataDir());
    const record = sampleRecord();
    await store.put(record);
    expect((await store.forMailbox('poststelle@stadt.example')).map((r) => r.id)).toEqual([record.id]);
    await store.close();
    await expect(store.forMailbox('poststelle@stadt.example')).rejects.toThrow(/identity store is closed/);
  });
  it('warns about an existing data dir that others can read, without changing it', async () => {
    const dataDir = freshDataDir();
    mkdirSync(dataDir, { mode: 0o755 });
    const warnings: string[] = [];
    const store = SqliteIdentityStore.open(dataDir, (m) => warnings.push(m));
    await store.close();
    expect(warnings).toEqual([expect.stringMatching(/data directory .* has mode 0755; 0700 is recommended/)]);
    expect(mode(dataDir)).toBe(0o755);
  });

  it('waits for another process that holds the write lock instead of failing', async () => {
    const dataDir = freshDataDir();
    const store = SqliteIdentityStore.open(dataDir);
    const file = path.join(dataDir, 'siegel.db');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const { DatabaseSync } = require('node:sqlite');
         const db = new DatabaseSync(process.argv[1]);
         db.exec('BEGIN IMMEDIATE');
         process.stdout.write('locked\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 700);
         db.exec('COMMIT');
         db.close();`,
        file,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<number | null>((resolve) => holder.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('locked')) resolve();
      });
      holder.on('error', reject);
    });
    const started = Date.now();
    const record = sampleRecord();
    await store.put(record);
    const waited = Date.now() - started;
    expect(await exited).toBe(0);
    expect(waited).toBeGreaterThan(200);
    expect(await store.get(record.id)).toEqual(record);
    await store.close();
  });
});
