/**
 * Opening `<dataDir>/siegel.db` so that `siegel serve` and the CLI can use
 * it at the same time (DESIGN: WAL, no exclusive locks, a busy timeout
 * instead of SQLITE_BUSY) and so that only the service user can read it
 * (dataDir 0700 when we create it, database and -wal/-shm files 0600).
 *
 * Schema versions live in PRAGMA user_version. That number is per database
 * file: every store that puts tables into siegel.db adds its steps to the
 * one shared, ordered list below (`schemaMigrations`) rather than count on
 * its own, and every store opens the file with that whole list
 * (`openSiegelDatabase`), so whichever process opens first brings the file
 * to the schema of this Siegel version and no store ever sees a version it
 * calls "newer". The steps live here, not beside each store, so that
 * version numbers are handed out in one place and the module graph has no
 * cycle (the stores import this file).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SiegelError } from '../errors.js';

export const DATABASE_FILE = 'siegel.db';
/** How long a writer waits for another process's write transaction. */
export const BUSY_TIMEOUT_MS = 10_000;

export interface Migration {
  /** user_version after this step. */
  readonly version: number;
  readonly sql: string;
}

/**
 * The schema of siegel.db, oldest step first. Never edit or renumber a
 * step that has shipped: existing databases have run it. Append.
 */
export const schemaMigrations: readonly Migration[] = [
  // 1: identities (sqlite-identity-store.ts), as shipped with the signing relay.
  {
    version: 1,
    sql: `
      CREATE TABLE identities (
        id TEXT PRIMARY KEY,
        mailbox TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('sign', 'encrypt', 'both')),
        state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
        certificate BLOB,
        encrypted_key BLOB NOT NULL,
        public_key_sha256 TEXT NOT NULL,
        request BLOB,
        subject TEXT,
        issuer TEXT,
        serial TEXT,
        not_before INTEGER,
        not_after INTEGER,
        created_at INTEGER NOT NULL,
        CHECK (state = 'pending' OR certificate IS NOT NULL)
      ) STRICT;
      CREATE INDEX identities_mailbox ON identities (mailbox);
      CREATE INDEX identities_public_key ON identities (public_key_sha256);
      CREATE TABLE identity_chain (
        identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        certificate BLOB NOT NULL,
        PRIMARY KEY (identity_id, position)
      ) STRICT;
    `,
  },
  // 2: harvested certificates of correspondents (sqlite-harvested-store.ts).
  // One row per (address, certificate): a certificate for several
  // addresses is harvested once per address. Capabilities are the
  // SMIMECapabilities OIDs in the sender's order, space-separated.
  {
    version: 2,
    sql: `
      CREATE TABLE harvested_certificates (
        address TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        certificate BLOB NOT NULL,
        subject TEXT NOT NULL,
        issuer TEXT NOT NULL,
        serial TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        capabilities TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('signer', 'encryption-preference', 'same-address')),
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        anchor_fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('active', 'superseded')),
        PRIMARY KEY (address, fingerprint)
      ) STRICT;
    `,
  },
  // 3: the large-file exchange (src/transfer/sqlite-transfer-store.ts).
  // Only SHA-256 of each link token is kept (token_hash). origin and event
  // carry no CHECK so later origins and events need no table rebuild; the
  // store validates them on read. Audit rows outlive their share (no
  // foreign key): the log must survive deletion of the file.
  {
    version: 3,
    sql: `
      CREATE TABLE transfer_shares (
        id TEXT PRIMARY KEY,
        token_hash BLOB NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        file_name TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        sha256 TEXT NOT NULL,
        origin TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        downloads INTEGER NOT NULL DEFAULT 0,
        max_downloads INTEGER CHECK (max_downloads IS NULL OR max_downloads >= 1),
        password_hash TEXT,
        notify_first_download INTEGER NOT NULL,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER,
        revoked_at INTEGER,
        blob_deleted_at INTEGER
      ) STRICT;
      CREATE INDEX transfer_shares_owner ON transfer_shares (owner, created_at);
      CREATE INDEX transfer_shares_pending_sweep ON transfer_shares (expires_at) WHERE blob_deleted_at IS NULL;
      CREATE TABLE transfer_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        event TEXT NOT NULL,
        share_id TEXT,
        actor TEXT,
        file_name TEXT,
        size INTEGER,
        client_ip TEXT,
        detail TEXT
      ) STRICT;
      CREATE INDEX transfer_audit_at ON transfer_audit (at);
      CREATE INDEX transfer_audit_share ON transfer_audit (share_id, at);
    `,
  },
  // 4: the staff area of the large-file exchange (src/transfer/sqlite-staff-store.ts):
  // sign-in links, sessions, resumable uploads, upload requests. Secrets only as SHA-256.
  {
    version: 4,
    sql: `
      CREATE TABLE staff_sign_in_links (
        token_hash TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      ) STRICT;
      CREATE TABLE staff_sessions (
        id_hash TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE staff_upload_requests (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        partner TEXT,
        note TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        closed_at INTEGER,
        files INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX staff_upload_requests_owner ON staff_upload_requests (owner);
      CREATE TABLE staff_uploads (
        token_hash TEXT PRIMARY KEY,
        blob_id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        request_id TEXT,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        sealed_options BLOB NOT NULL,
        sealed_result BLOB
      ) STRICT;
      CREATE INDEX staff_uploads_owner ON staff_uploads (owner);
    `,
  },
  // 5: harvested_certificates.source without a CHECK: certificates also come
  // from `siegel certs import` ('imported') and, later, other sources; the
  // store validates the value on put (checkHarvestedRecord), like the
  // transfer tables' origin, so a new source needs no table rebuild again.
  // SQLite cannot drop a CHECK in place: the table is copied.
  {
    version: 5,
    sql: `
      CREATE TABLE harvested_certificates_v5 (
        address TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        certificate BLOB NOT NULL,
        subject TEXT NOT NULL,
        issuer TEXT NOT NULL,
        serial TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        capabilities TEXT NOT NULL,
        source TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        anchor_fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('active', 'superseded')),
        PRIMARY KEY (address, fingerprint)
      ) STRICT;
      INSERT INTO harvested_certificates_v5 (address, fingerprint, certificate, subject, issuer, serial, not_before, not_after,
          capabilities, source, first_seen, last_seen, anchor_fingerprint, state)
        SELECT address, fingerprint, certificate, subject, issuer, serial, not_before, not_after,
          capabilities, source, first_seen, last_seen, anchor_fingerprint, state FROM harvested_certificates;
      DROP TABLE harvested_certificates;
      ALTER TABLE harvested_certificates_v5 RENAME TO harvested_certificates;
    `,
  },
  // 6: issuing CA certificates of harvested and imported correspondents
  // (sqlite-issuer-store.ts), so their revocation can be checked after a
  // restart. Keyed by SHA-256 of the DER; subject as OpenSSL prints it
  // (X509Certificate.subject), which is what a certificate's issuer is looked
  // up by. last_seen orders eviction (the store is bounded).
  {
    version: 6,
    sql: `
      CREATE TABLE issuer_certificates (
        fingerprint TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        certificate BLOB NOT NULL,
        not_after INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX issuer_certificates_subject ON issuer_certificates (subject);
      CREATE INDEX issuer_certificates_last_seen ON issuer_certificates (last_seen);
    `,
  },
];

/** The user_version of a database this Siegel has opened. */
export const SCHEMA_VERSION = schemaMigrations.reduce((max, m) => Math.max(max, m.version), 0);

export interface OpenedDatabase {
  readonly db: DatabaseSync;
  readonly file: string;
}

/**
 * Opens with an explicit step list. Stores use openSiegelDatabase (the whole
 * shared list); a partial list is for tests that recreate an older schema.
 */
export function openDatabase(dataDir: string, migrations: readonly Migration[], warn: (message: string) => void): OpenedDatabase {
  const file = path.join(dataDir, DATABASE_FILE);
  let db: DatabaseSync;
  try {
    prepareDirectory(dataDir, warn);
    // Create the file ourselves with 0600: SQLite gives -wal and -shm the
    // database file's permission bits, so those follow.
    closeSync(openSync(file, 'a', 0o600));
    restrictMode(file, warn);
    db = new DatabaseSync(file, { enableForeignKeyConstraints: true });
  } catch (err) {
    throw damaged(file, err) ?? new SiegelError('STORAGE_FAILED', `cannot open database ${file}: ${describe(err)}`, { cause: err });
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.exec('PRAGMA journal_mode = WAL');
    // NORMAL is durable across application crashes in WAL mode; only an OS crash may lose the last commit.
    db.exec('PRAGMA synchronous = NORMAL');
    migrate(db, file, migrations);
    for (const suffix of ['-wal', '-shm']) restrictMode(file + suffix, warn);
  } catch (err) {
    db.close();
    if (err instanceof SiegelError) throw err;
    throw damaged(file, err) ?? new SiegelError('STORAGE_FAILED', `cannot prepare database ${file}: ${describe(err)}`, { cause: err });
  }
  return { db, file };
}

/** Opens `<dataDir>/siegel.db` migrated to the whole shared schema; what every store uses. */
export function openSiegelDatabase(dataDir: string, warn: (message: string) => void): OpenedDatabase {
  return openDatabase(dataDir, schemaMigrations, warn);
}

/**
 * Checks `<dataDir>/siegel.db` page by page (PRAGMA quick_check) before
 * anything opens it for writing: `siegel serve` runs this once at start, so
 * a damaged database stops the start with a clear error instead of failing
 * message after message later. The connection is read-only: a damaged file
 * is left exactly as it is for the administrator to restore or examine (no
 * migration, no checkpoint, no "repair" that could lose what is left).
 * A missing file is fine (it is created on first open).
 */
export function checkDatabaseIntegrity(dataDir: string): void {
  const file = path.join(dataDir, DATABASE_FILE);
  if (!existsSync(file)) return;
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const rows = db.prepare('PRAGMA quick_check(5)').all();
    const problems = rows.map((row) => String(row.quick_check)).filter((line) => line !== 'ok');
    if (problems.length > 0) throw new SiegelError('STORAGE_FAILED', damagedText(file, problems.join('; ')));
  } catch (err) {
    if (err instanceof SiegelError) throw err;
    throw damaged(file, err) ?? new SiegelError('STORAGE_FAILED', `cannot check database ${file}: ${describe(err)}`, { cause: err });
  } finally {
    db?.close();
  }
}

/** SQLite's primary result codes for a file that is not (or no longer) a sound database. */
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

/** The error for a damaged database file, or undefined when `err` is some other failure. */
export function damaged(file: string, err: unknown): SiegelError | undefined {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  if (typeof code !== 'number') return undefined;
  // Extended result codes carry the primary code in their low byte (e.g. SQLITE_CORRUPT_VTAB).
  const primary = code & 0xff;
  if (primary !== SQLITE_CORRUPT && primary !== SQLITE_NOTADB) return undefined;
  return new SiegelError('STORAGE_FAILED', damagedText(file, describe(err)), { cause: err });
}

function damagedText(file: string, what: string): string {
  return `database ${file} is damaged (${what}): stop Siegel and restore the file from a backup; Siegel has left it unchanged`;
}

function prepareDirectory(dataDir: string, warn: (message: string) => void): void {
  if (!existsSync(dataDir)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask; make sure.
    chmodSync(dataDir, 0o700);
    return;
  }
  // An existing directory is the administrator's; say so rather than change it.
  const mode = statSync(dataDir).mode & 0o777;
  if ((mode & 0o077) !== 0) warn(`data directory ${dataDir} has mode ${mode.toString(8).padStart(4, '0')}; 0700 is recommended`);
}

function restrictMode(file: string, warn: (message: string) => void): void {
  if (!existsSync(file)) return;
  const mode = statSync(file).mode & 0o777;
  if (mode === 0o600) return;
  try {
    chmodSync(file, 0o600);
  } catch (err) {
    warn(`cannot restrict ${file} to mode 0600 (it is ${mode.toString(8)}): ${describe(err)}`);
  }
}

/**
 * Runs the missing steps in one IMMEDIATE transaction: a CLI and a server
 * starting together serialise here, and the second sees the new version.
 */
function migrate(db: DatabaseSync, file: string, migrations: readonly Migration[]): void {
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  const current = userVersion(db);
  if (current > latest) {
    throw new SiegelError('STORAGE_FAILED', `database ${file} has schema version ${current}, newer than this Siegel knows (${latest}); upgrade Siegel`);
  }
  if (current === latest) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    const now = userVersion(db);
    for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
      if (step.version <= now) continue;
      db.exec(step.sql);
      db.exec(`PRAGMA user_version = ${step.version}`);
    }
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get();
  const value = row?.user_version;
  return typeof value === 'number' ? value : Number(value ?? 0);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
