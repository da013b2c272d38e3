/**
 * The blob ids siegel.db refers to: every share whose file has not been
 * deleted (whatever its state: an expired share's file is the sweep's to
 * delete, with its audit entry) and every upload, unfinished or finished.
 * A file of the blob store under any other id belongs to nothing.
 */
import { SqliteConnection, text } from '../keystore/sqlite-connection.js';
import { openSiegelDatabase } from '../keystore/sqlite-database.js';

export function referencedBlobIds(dataDir: string, warn: (message: string) => void = () => {}): Set<string> {
  const { db, file } = openSiegelDatabase(dataDir, warn);
  const conn = new SqliteConnection(db, file, 'blob references');
  try {
    const rows = conn.guard('list the files of shares and uploads', () =>
      conn.statement('SELECT id AS blob_id FROM transfer_shares WHERE blob_deleted_at IS NULL UNION SELECT blob_id FROM staff_uploads').all(),
    );
    return new Set(rows.map((row) => text(row['blob_id'])));
  } finally {
    conn.close();
  }
}
