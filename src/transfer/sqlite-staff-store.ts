/**
 * StaffStore on node:sqlite, in `<dataDir>/siegel.db` (schema step 4 in
 * sqlite-database.ts). Each call is one short statement, so `siegel serve`
 * and the CLI share the file without waiting on each other.
 */
import type { DatabaseSync, SQLInputValue, SQLOutputValue } from 'node:sqlite';
import { blob, optionalDate, optionalText, SqliteConnection, text } from '../keystore/sqlite-connection.js';
import { openSiegelDatabase } from '../keystore/sqlite-database.js';
import type { SessionRecord, StaffStore, UploadRecord, UploadRequestRecord } from './staff-records.js';

type Row = Record<string, SQLOutputValue>;

const date = (value: SQLOutputValue | undefined): Date => new Date(Number(value ?? 0));

export class SqliteStaffStore implements StaffStore {
  readonly #conn: SqliteConnection;

  constructor(db: DatabaseSync, file: string) {
    this.#conn = new SqliteConnection(db, file, 'staff store');
  }

  static open(dataDir: string, warn: (message: string) => void = () => {}): SqliteStaffStore {
    const { db, file } = openSiegelDatabase(dataDir, warn);
    return new SqliteStaffStore(db, file);
  }

  saveSignInLink(tokenHash: string, address: string, expiresAt: Date): void {
    this.run('store sign-in link', 'INSERT INTO staff_sign_in_links (token_hash, address, expires_at) VALUES (?, ?, ?)', tokenHash, address, expiresAt.getTime());
  }

  consumeSignInLink(tokenHash: string, now: Date): string | undefined {
    // One UPDATE decides: two requests racing for the same link cannot both win.
    const row = this.get(
      'use sign-in link',
      'UPDATE staff_sign_in_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING address',
      now.getTime(),
      tokenHash,
      now.getTime(),
    );
    return row ? text(row['address']) : undefined;
  }

  saveSession(idHash: string, session: SessionRecord): void {
    this.run(
      'store session',
      'INSERT INTO staff_sessions (id_hash, address, created_at, expires_at) VALUES (?, ?, ?, ?)',
      idHash,
      session.address,
      session.createdAt.getTime(),
      session.expiresAt.getTime(),
    );
  }

  session(idHash: string, now: Date): SessionRecord | undefined {
    const row = this.get('read session', 'SELECT address, created_at, expires_at FROM staff_sessions WHERE id_hash = ? AND expires_at > ?', idHash, now.getTime());
    return row ? { address: text(row['address']), createdAt: date(row['created_at']), expiresAt: date(row['expires_at']) } : undefined;
  }

  deleteSession(idHash: string): void {
    this.run('delete session', 'DELETE FROM staff_sessions WHERE id_hash = ?', idHash);
  }

  saveUpload(tokenHash: string, upload: UploadRecord): void {
    this.run(
      'store upload',
      `INSERT INTO staff_uploads (token_hash, blob_id, owner, request_id, size, created_at, expires_at, sealed_options)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      tokenHash,
      upload.blobId,
      upload.owner,
      upload.requestId ?? null,
      upload.size,
      upload.createdAt.getTime(),
      upload.expiresAt.getTime(),
      upload.sealedOptions,
    );
  }

  upload(tokenHash: string): UploadRecord | undefined {
    const row = this.get('read upload', 'SELECT * FROM staff_uploads WHERE token_hash = ?', tokenHash);
    if (!row) return undefined;
    const result = blob(row['sealed_result']);
    const requestId = optionalText(row['request_id']);
    return {
      blobId: text(row['blob_id']),
      owner: text(row['owner']),
      ...(requestId !== null ? { requestId } : {}),
      size: Number(row['size']),
      createdAt: date(row['created_at']),
      expiresAt: date(row['expires_at']),
      sealedOptions: blob(row['sealed_options']) ?? Buffer.alloc(0),
      ...(result ? { sealedResult: result } : {}),
    };
  }

  setUploadResult(tokenHash: string, sealedResult: Buffer): void {
    this.run('store upload result', 'UPDATE staff_uploads SET sealed_result = ? WHERE token_hash = ?', sealedResult, tokenHash);
  }

  deleteUpload(tokenHash: string): void {
    this.run('delete upload', 'DELETE FROM staff_uploads WHERE token_hash = ?', tokenHash);
  }

  pendingBytes(owner: string): number {
    const row = this.get('sum uploads', 'SELECT COALESCE(SUM(size), 0) AS total FROM staff_uploads WHERE owner = ? AND sealed_result IS NULL', owner);
    return Number(row?.['total'] ?? 0);
  }

  saveRequest(tokenHash: string, request: Omit<UploadRequestRecord, 'files' | 'closedAt'>): void {
    this.run(
      'store upload request',
      'INSERT INTO staff_upload_requests (id, token_hash, owner, partner, note, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      request.id,
      tokenHash,
      request.owner,
      request.partner ?? null,
      request.note ?? null,
      request.createdAt.getTime(),
      request.expiresAt.getTime(),
    );
  }

  requestByToken(tokenHash: string): UploadRequestRecord | undefined {
    const row = this.get('read upload request', 'SELECT * FROM staff_upload_requests WHERE token_hash = ?', tokenHash);
    return row ? requestFrom(row) : undefined;
  }

  requests(owner: string): UploadRequestRecord[] {
    return this.#conn
      .guard('list upload requests', () => this.#conn.statement('SELECT * FROM staff_upload_requests WHERE owner = ? ORDER BY created_at DESC').all(owner))
      .map((row) => requestFrom(row as Row));
  }

  closeRequest(id: string, owner: string, now: Date): boolean {
    const changes = this.run('close upload request', 'UPDATE staff_upload_requests SET closed_at = ? WHERE id = ? AND owner = ? AND closed_at IS NULL', now.getTime(), id, owner);
    return changes > 0;
  }

  countRequestFile(id: string): void {
    this.run('count upload request file', 'UPDATE staff_upload_requests SET files = files + 1 WHERE id = ?', id);
  }

  sweep(now: Date): string[] {
    const at = now.getTime();
    this.run('sweep sign-in links', 'DELETE FROM staff_sign_in_links WHERE expires_at <= ?', at);
    this.run('sweep sessions', 'DELETE FROM staff_sessions WHERE expires_at <= ?', at);
    // Requests are kept a while after they expire so the staff page still lists them.
    this.run('sweep upload requests', 'DELETE FROM staff_upload_requests WHERE expires_at <= ?', at - 30 * 86_400_000);
    const rows = this.#conn.guard('sweep uploads', () => this.#conn.statement('DELETE FROM staff_uploads WHERE expires_at <= ? RETURNING blob_id').all(at));
    return rows.map((row) => text((row as Row)['blob_id']));
  }

  close(): void {
    this.#conn.close();
  }

  private run(what: string, sql: string, ...params: SQLInputValue[]): number {
    return this.#conn.guard(what, () => Number(this.#conn.statement(sql).run(...params).changes));
  }

  private get(what: string, sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#conn.guard(what, () => this.#conn.statement(sql).get(...params) as Row | undefined);
  }
}

function requestFrom(row: Row): UploadRequestRecord {
  const partner = optionalText(row['partner']);
  const note = optionalText(row['note']);
  const closedAt = optionalDate(row['closed_at']);
  return {
    id: text(row['id']),
    owner: text(row['owner']),
    ...(partner !== null ? { partner } : {}),
    ...(note !== null ? { note } : {}),
    createdAt: date(row['created_at']),
    expiresAt: date(row['expires_at']),
    ...(closedAt ? { closedAt } : {}),
    files: Number(row['files'] ?? 0),
  };
}
