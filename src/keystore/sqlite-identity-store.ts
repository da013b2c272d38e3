/**
 * IdentityStore on node:sqlite (`<dataDir>/siegel.db`). Synchronous
 * underneath (DatabaseSync); each call is one short statement or
 * transaction, so the event loop is held for microseconds.
 */
import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import { ReadCache } from './read-cache.js';
import { blob, optionalDate, optionalText, SqliteConnection, text } from './sqlite-connection.js';
import { checkRecord, type IdentityRecord, type IdentityRole, type IdentityState, type IdentityStore } from './identity-store.js';
import { openSiegelDatabase, schemaMigrations, type Migration } from './sqlite-database.js';

/**
 * Steps for PRAGMA user_version, kept for callers of the earlier export: the
 * identity tables are step 1 of the shared schema in sqlite-database.ts.
 */
export const identityMigrations: readonly Migration[] = schemaMigrations.filter((m) => m.version === 1);

const COLUMNS = 'id, mailbox, role, state, certificate, encrypted_key, public_key_sha256, request, subject, issuer, serial, not_before, not_after, created_at';
const ORDER = 'ORDER BY mailbox, created_at, id';

type Row = Record<string, SQLOutputValue>;

export class SqliteIdentityStore implements IdentityStore {
  readonly file: string;
  readonly #conn: SqliteConnection;
  /** forMailbox runs for every outbound message (which identity signs?). */
  readonly #byMailbox: ReadCache<readonly IdentityRecord[]>;

  private constructor(db: DatabaseSync, file: string) {
    this.#conn = new SqliteConnection(db, file, 'identity store');
    this.#byMailbox = new ReadCache(this.#conn);
    this.file = file;
  }

  /** Opens (creating and migrating as needed) `<dataDir>/siegel.db`. */
  static open(dataDir: string, warn: (message: string) => void = () => {}): SqliteIdentityStore {
    // The whole shared schema: the file may also hold (or later get) other stores' tables.
    const { db, file } = openSiegelDatabase(dataDir, warn);
    return new SqliteIdentityStore(db, file);
  }

  async put(record: IdentityRecord): Promise<void> {
    this.#byMailbox.clear();
    checkRecord(record);
    const db = this.#conn.db;
    this.#conn.guard('store identity', () => {
      db.exec('BEGIN IMMEDIATE');
      try {
        db.prepare(
          `INSERT INTO identities (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET mailbox = excluded.mailbox, role = excluded.role, state = excluded.state,
             certificate = excluded.certificate, encrypted_key = excluded.encrypted_key,
             public_key_sha256 = excluded.public_key_sha256, request = excluded.request, subject = excluded.subject,
             issuer = excluded.issuer, serial = excluded.serial, not_before = excluded.not_before,
             not_after = excluded.not_after, created_at = excluded.created_at`,
        ).run(
          record.id,
          record.mailbox.toLowerCase(),
          record.role,
          record.state,
          record.certificate,
          record.encryptedKey,
          record.publicKeySha256,
          record.request,
          record.subject,
          record.issuer,
          record.serial,
          record.notBefore?.getTime() ?? null,
          record.notAfter?.getTime() ?? null,
          record.createdAt.getTime(),
        );
        db.prepare('DELETE FROM identity_chain WHERE identity_id = ?').run(record.id);
        const insert = db.prepare('INSERT INTO identity_chain (identity_id, position, certificate) VALUES (?, ?, ?)');
        record.chain.forEach((der, position) => insert.run(record.id, position, der));
        db.exec('COMMIT');
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async get(id: string): Promise<IdentityRecord | undefined> {
    return this.select(`SELECT ${COLUMNS} FROM identities WHERE id = ?`, id)[0];
  }

  async list(): Promise<IdentityRecord[]> {
    return this.select(`SELECT ${COLUMNS} FROM identities ${ORDER}`);
  }

  async forMailbox(mailbox: string): Promise<IdentityRecord[]> {
    const address = mailbox.trim().toLowerCase();
    return [...this.#byMailbox.get(address, () => this.select(`SELECT ${COLUMNS} FROM identities WHERE mailbox = ? ${ORDER}`, address))];
  }

  async forPublicKey(publicKeySha256: string): Promise<IdentityRecord[]> {
    return this.select(`SELECT ${COLUMNS} FROM identities WHERE public_key_sha256 = ? ${ORDER}`, publicKeySha256.toLowerCase());
  }

  async remove(id: string): Promise<boolean> {
    this.#byMailbox.clear();
    return this.#conn.guard('remove identity', () => Number(this.#conn.statement('DELETE FROM identities WHERE id = ?').run(id).changes) > 0);
  }

  async close(): Promise<void> {
    this.#conn.close();
  }

  private select(sql: string, ...params: string[]): IdentityRecord[] {
    return this.#conn.guard('read identities', () => {
      const rows = this.#conn.statement(sql).all(...params);
      if (rows.length === 0) return [];
      const chains = this.chainsOf(rows.map((row) => text(row.id)));
      return rows.map((row) => toRecord(row, chains.get(text(row.id)) ?? []));
    });
  }

  private chainsOf(ids: string[]): Map<string, Buffer[]> {
    const chains = new Map<string, Buffer[]>();
    // One query per id keeps the statement simple; lists are small (mailboxes x certificates).
    const statement = this.#conn.statement('SELECT certificate FROM identity_chain WHERE identity_id = ? ORDER BY position');
    for (const id of ids) {
      chains.set(
        id,
        statement.all(id).map((row) => blob(row.certificate) ?? Buffer.alloc(0)),
      );
    }
    return chains;
  }
}

function toRecord(row: Row, chain: Buffer[]): IdentityRecord {
  return {
    id: text(row.id),
    mailbox: text(row.mailbox),
    role: text(row.role) as IdentityRole,
    state: text(row.state) as IdentityState,
    certificate: blob(row.certificate),
    chain,
    encryptedKey: blob(row.encrypted_key) ?? Buffer.alloc(0),
    publicKeySha256: text(row.public_key_sha256),
    request: blob(row.request),
    subject: optionalText(row.subject),
    issuer: optionalText(row.issuer),
    serial: optionalText(row.serial),
    notBefore: optionalDate(row.not_before),
    notAfter: optionalDate(row.not_after),
    createdAt: optionalDate(row.created_at) ?? new Date(0),
  };
}
