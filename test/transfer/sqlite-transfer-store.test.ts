import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteTransferStore } from '../../src/transfer/sqlite-transfer-store.js';
import { tempDir } from '../pki/test-pki.js';
import { sampleShare, transferStoreConformance } from './transfer-store.conformance.js';

transferStoreConformance('SqliteTransferStore', {
  open: async () => SqliteTransferStore.open(path.join(tempDir('siegel-transfer-store-'), 'data')),
  reopen: async (store) => SqliteTransferStore.open(path.dirname((store as SqliteTransferStore).file)),
});

describe('SqliteTransferStore on disk', () => {
  it('keeps the token only as its 32-byte hash and reports a closed store clearly', async () => {
    const dataDir = path.join(tempDir('siegel-transfer-store-'), 'data');
    const store = SqliteTransferStore.open(dataDir);
    const record = sampleShare();
    await store.insertShare(record, { limit: Number.MAX_SAFE_INTEGER, now: new Date() });
    await store.close();
    const db = new DatabaseSync(path.join(dataDir, 'siegel.db'));
    try {
      const row = db.prepare('SELECT token_hash FROM transfer_shares WHERE id = ?').get(record.id);
      expect(Buffer.from(row?.['token_hash'] as Uint8Array)).toEqual(record.tokenHash);
    } finally {
      db.close();
    }
    await expect(store.list()).rejects.toThrow('transfer store is closed');
  });
});
