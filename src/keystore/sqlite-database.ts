/**
 * Opening `<dataDir>/siegel.db` so that `siegel serve` and the CLI can use
 * it at the same time (DESIGN: WAL, no exclusive locks, a busy timeout
 * instead of SQLITE_BUSY) and so that only the service user can read it
 * (dataDir 0700 when we create it, database and -wal/-shm files 0600).
 *
 * Schema versions live in PRAGMA user_version. That number is per database
 * file: every store that puts tables into siegel.db must add its steps to
 * one shared, ordered migration list rather than count on its own.
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

export interface OpenedDatabase {
  readonly db: DatabaseSync;
  readonly file: string;
}

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
    throw new SiegelError('STORAGE_FAILED', `cannot open database ${file}: ${describe(err)}`, { cause: err });
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
    throw new SiegelError('STORAGE_FAILED', `cannot prepare database ${file}: ${describe(err)}`, { cause: err });
  }
  return { db, file };
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
