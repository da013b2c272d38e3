/**
 * TransferStore on node:sqlite, in the shared `<dataDir>/siegel.db`
 * (schema step 3 in src/keystore/sqlite-database.ts), so `siegel files ...`
 * works beside a running `siegel serve`. Calls that must be atomic across
 * processes run in one BEGIN IMMEDIATE transaction or one UPDATE statement.
 */
import type { DatabaseSync, SQLInputValue, SQLOutputValue } from 'node:sqlite';
import { SiegelError } from '../errors.js';
import { blob, optionalDate, optionalText, SqliteConnection, text } from '../keystore/sqlite-connection.js';
import { openSiegelDatabase } from '../keystore/sqlite-database.js';
import type { AuditFilter, PasswordAttempt, PasswordPolicy, ShareRecord, TransferStore } from './transfer-store.js';
import type { AuditEntry, AuditEvent, ShareOrigin } from './types.js';

const SHARE_COLUMNS =
  'id, token_hash, owner, file_name, content_type, size, sha256, origin, created_at, expires_at, downloads, max_downloads, ' +
  'password_hash, notify_first_download, failed_attempts, locked_until, revoked_at, blob_deleted_at';

/** shareState(...) === 'active' in SQL; binds one parameter, the current time in ms. */
const ACTIVE = 'revoked_at IS NULL AND blob_deleted_at IS NULL AND expires_at > ? AND (max_downloads IS NULL OR downloads < max_downloads)';

const ORIGINS: ReadonlySet<string> = new Set<ShareOrigin>(['cli', 'web', 'offload', 'upload-request']);
const EVENTS: ReadonlySet<string> = new Set<AuditEvent>([
  'share',
  'upload',
  'download',
  'revoke',
  'expire',
  'password-failed',
  'locked',
  'request-created',
  'sign-in',
]);

type Row = Record<string, SQLOutputValue>;

export class SqliteTransferStore implements TransferStore {
  readonly file: string;
  readonly #conn: SqliteConnection;

  private constructor(db: DatabaseSync, file: string) {
    this.#conn = new SqliteConnection(db, file, 'transfer store');
    this.file = file;
  }

  /** Opens (creating and migrating as needed) `<dataDir>/siegel.db`. */
  static open(dataDir: string, warn: (message: string) => void = () => {}): SqliteTransferStore {
    const { db, file } = openSiegelDatabase(dataDir, warn);
    return new SqliteTransferStore(db, file);
  }

  async insertShare(record: ShareRecord, quota: { readonly limit: number; readonly now: Date }): Promise<boolean> {
    return this.transaction('store share', () => {
      const used = this.activeBytesNow(record.owner, quota.now);
      if (used + record.size > quota.limit) return false;
      this.#conn
        .statement(`INSERT INTO transfer_shares (${SHARE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(
          record.id,
          record.tokenHash,
          record.owner,
          record.fileName,
          record.contentType,
          record.size,
          record.sha256,
          record.origin,
          record.createdAt.getTime(),
          record.expiresAt.getTime(),
          record.downloads,
          record.maxDownloads,
          record.passwordHash,
          record.notifyOnFirstDownload ? 1 : 0,
          record.failedAttempts,
          time(record.lockedUntil),
          time(record.revokedAt),
          time(record.blobDeletedAt),
        );
      return true;
    });
  }

  async get(id: string): Promise<ShareRecord | undefined> {
    return this.selectShares('read share', `SELECT ${SHARE_COLUMNS} FROM transfer_shares WHERE id = ?`, id)[0];
  }

  async findByTokenHash(tokenHash: Buffer): Promise<ShareRecord | undefined> {
    return this.selectShares('read share', `SELECT ${SHARE_COLUMNS} FROM transfer_shares WHERE token_hash = ?`, tokenHash)[0];
  }

  async list(filter: { readonly owner?: string } = {}): Promise<ShareRecord[]> {
    const order = 'ORDER BY created_at DESC, id';
    return filter.owner === undefined
      ? this.selectShares('list shares', `SELECT ${SHARE_COLUMNS} FROM transfer_shares ${order}`)
      : this.selectShares('list shares', `SELECT ${SHARE_COLUMNS} FROM transfer_shares WHERE owner = ? ${order}`, filter.owner);
  }

  async activeBytes(owner: string, now: Date): Promise<number> {
    return this.#conn.guard('sum active shares', () => this.activeBytesNow(owner, now));
  }

  async countDownload(id: string, now: Date): Promise<number | undefined> {
    const row = this.#conn.guard('count download', () =>
      this.#conn.statement(`UPDATE transfer_shares SET downloads = downloads + 1 WHERE id = ? AND ${ACTIVE} RETURNING downloads`).get(id, now.getTime()),
    );
    return row === undefined ? undefined : Number(row['downloads']);
  }

  async reservePasswordAttempt(id: string, now: Date, policy: PasswordPolicy): Promise<PasswordAttempt | undefined> {
    return this.transaction('count password attempt', () => {
      const row = this.#conn.statement('SELECT failed_attempts, locked_until FROM transfer_shares WHERE id = ?').get(id);
      if (row === undefined) return undefined;
      const lockedUntil = optionalDate(row['locked_until']);
      if (lockedUntil !== null && lockedUntil.getTime() > now.getTime()) return { status: 'locked', until: lockedUntil };
      // A lock that ran out starts a fresh count.
      const failures = (lockedUntil === null ? Number(row['failed_attempts']) : 0) + 1;
      const locksNow = failures >= policy.maxAttempts;
      const newLock = locksNow ? new Date(now.getTime() + policy.lockoutMs) : null;
      this.#conn.statement('UPDATE transfer_shares SET failed_attempts = ?, locked_until = ? WHERE id = ?').run(failures, time(newLock), id);
      return { status: 'allowed', locksNow, lockedUntil: newLock };
    });
  }

  async clearPasswordFailures(id: string): Promise<void> {
    this.run('reset password attempts', 'UPDATE transfer_shares SET failed_attempts = 0, locked_until = NULL WHERE id = ?', id);
  }

  async revoke(id: string, at: Date, owner?: string): Promise<boolean> {
    const changes =
      owner === undefined
        ? this.run('revoke share', 'UPDATE transfer_shares SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', at.getTime(), id)
        : this.run('revoke share', 'UPDATE transfer_shares SET revoked_at = ? WHERE id = ? AND owner = ? AND revoked_at IS NULL', at.getTime(), id, owner);
    return changes > 0;
  }

  async sweepCandidates(now: Date, limit: number): Promise<ShareRecord[]> {
    return this.selectShares(
      'find shares to sweep',
      `SELECT ${SHARE_COLUMNS} FROM transfer_shares
       WHERE blob_deleted_at IS NULL AND (revoked_at IS NOT NULL OR expires_at <= ? OR (max_downloads IS NOT NULL AND downloads >= max_downloads))
       ORDER BY expires_at, id LIMIT ?`,
      now.getTime(),
      limit,
    );
  }

  async markBlobDeleted(id: string, at: Date): Promise<boolean> {
    return 0 < this.run('mark file deleted', 'UPDATE transfer_shares SET blob_deleted_at = ? WHERE id = ? AND blob_deleted_at IS NULL', at.getTime(), id);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.run(
      'write audit entry',
      'INSERT INTO transfer_audit (at, event, share_id, actor, file_name, size, client_ip, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      entry.at.getTime(),
      entry.event,
      entry.shareId ?? null,
      entry.actor ?? null,
      entry.fileName ?? null,
      entry.size ?? null,
      entry.clientIp ?? null,
      entry.detail ?? null,
    );
  }

  async audit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const conditions: string[] = [];
    const params: SQLInputValue[] = [];
    if (filter.shareId !== undefined) {
      conditions.push('share_id = ?');
      params.push(filter.shareId);
    }
    if (filter.since !== undefined) {
      conditions.push('at >= ?');
      params.push(filter.since.getTime());
    }
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
    // The newest `limit` entries, handed back in the order they happened.
    const limit = filter.limit === undefined ? -1 : Math.max(0, Math.floor(filter.limit));
    const rows = this.#conn.guard('read audit log', () =>
      this.#conn
        .statement(`SELECT at, event, share_id, actor, file_name, size, client_ip, detail FROM transfer_audit ${where} ORDER BY seq DESC LIMIT ?`)
        .all(...params, limit),
    );
    return rows.map((row) => this.toAuditEntry(row)).reverse();
  }

  async close(): Promise<void> {
    this.#conn.close();
  }

  private activeBytesNow(owner: string, now: Date): number {
    const row = this.#conn.statement(`SELECT COALESCE(SUM(size), 0) AS total FROM transfer_shares WHERE owner = ? AND ${ACTIVE}`).get(owner, now.getTime());
    return Number(row?.['total'] ?? 0);
  }

  private transaction<T>(what: string, action: () => T): T {
    return this.#conn.guard(what, () => {
      const db = this.#conn.db;
      // IMMEDIATE: another process's writer waits (busy timeout) instead of reading a sum that is about to change.
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = action();
        db.exec('COMMIT');
        return result;
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  private run(what: string, sql: string, ...params: SQLInputValue[]): number {
    return this.#conn.guard(what, () => Number(this.#conn.statement(sql).run(...params).changes));
  }

  private selectShares(what: string, sql: string, ...params: SQLInputValue[]): ShareRecord[] {
    const rows = this.#conn.guard(what, () => this.#conn.statement(sql).all(...params));
    return rows.map((row) => this.toShare(row));
  }

  private toShare(row: Row): ShareRecord {
    const origin = text(row['origin']);
    if (!ORIGINS.has(origin)) throw new SiegelError('STORAGE_FAILED', `share ${text(row['id'])} in ${this.file} has an unknown origin`);
    const maxDownloads = row['max_downloads'];
    return {
      id: text(row['id']),
      tokenHash: blob(row['token_hash']) ?? Buffer.alloc(0),
      owner: text(row['owner']),
      fileName: text(row['file_name']),
      contentType: text(row['content_type']),
      size: Number(row['size']),
      sha256: text(row['sha256']),
      origin: origin as ShareOrigin,
      createdAt: new Date(Number(row['created_at'])),
      expiresAt: new Date(Number(row['expires_at'])),
      downloads: Number(row['downloads']),
      maxDownloads: maxDownloads === null || maxDownloads === undefined ? null : Number(maxDownloads),
      passwordHash: optionalText(row['password_hash']),
      notifyOnFirstDownload: Number(row['notify_first_download']) !== 0,
      failedAttempts: Number(row['failed_attempts']),
      lockedUntil: optionalDate(row['locked_until']),
      revokedAt: optionalDate(row['revoked_at']),
      blobDeletedAt: optionalDate(row['blob_deleted_at']),
    };
  }

  private toAuditEntry(row: Row): AuditEntry {
    const event = text(row['event']);
    if (!EVENTS.has(event)) throw new SiegelError('STORAGE_FAILED', `audit entry in ${this.file} has an unknown event`);
    const optional = <K extends string, V>(key: K, value: V | null): { [P in K]?: V } =>
      (value === null ? {} : { [key]: value }) as { [P in K]?: V };
    const size = row['size'];
    return {
      at: new Date(Number(row['at'])),
      event: event as AuditEvent,
      ...optional('shareId', optionalText(row['share_id'])),
      ...optional('actor', optionalText(row['actor'])),
      ...optional('fileName', optionalText(row['file_name'])),
      ...optional('size', size === null || size === undefined ? null : Number(size)),
      ...optional('clientIp', optionalText(row['client_ip'])),
      ...optional('detail', optionalText(row['detail'])),
    };
  }
}

function time(date: Date | null): number | null {
  return date === null ? null : date.getTime();
}
