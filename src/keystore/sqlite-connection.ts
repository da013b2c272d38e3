/**
 * What every store in siegel.db needs of its connection: prepared statements
 * reused (lookups run per message), SQLite errors turned into catalog
 * errors that name the file, and a clear error after close.
 */
import type { DatabaseSync, SQLOutputValue, StatementSync } from 'node:sqlite';
import { SiegelError } from '../errors.js';
import { damaged } from './sqlite-database.js';

export class SqliteConnection {
  #db: DatabaseSync | undefined;
  readonly #statements = new Map<string, StatementSync>();

  constructor(
    db: DatabaseSync,
    readonly file: string,
    /** For the "closed" error, e.g. "identity store". */
    private readonly storeName: string,
  ) {
    this.#db = db;
  }

  get db(): DatabaseSync {
    this.ensureOpen();
    return this.#db as DatabaseSync;
  }

  /** Throws STORAGE_FAILED once closed (for answers that would not touch the database otherwise). */
  ensureOpen(): void {
    if (!this.#db) throw new SiegelError('STORAGE_FAILED', `${this.storeName} is closed`);
  }

  statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs `action`, reporting any SQLite failure as STORAGE_FAILED with what was being done. */
  guard<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (err) {
      if (err instanceof SiegelError) throw err;
      // Damage found while running (a page no start-up check read): say what to do, not only what failed.
      const broken = damaged(this.file, err);
      if (broken) throw broken;
      const message = err instanceof Error ? err.message : String(err);
      throw new SiegelError('STORAGE_FAILED', `cannot ${what} in ${this.file}: ${message}`, { cause: err });
    }
  }

  close(): void {
    const db = this.#db;
    this.#db = undefined;
    this.#statements.clear();
    db?.close();
  }
}

/** Column readers for rows from node:sqlite. */
export function text(value: SQLOutputValue | undefined): string {
  return typeof value === 'string' ? value : String(value ?? '');
}

export function optionalText(value: SQLOutputValue | undefined): string | null {
  return value === null || value === undefined ? null : text(value);
}

export function blob(value: SQLOutputValue | undefined): Buffer | null {
  return value instanceof Uint8Array ? Buffer.from(value) : null;
}

export function optionalDate(value: SQLOutputValue | undefined): Date | null {
  return typeof value === 'number' || typeof value === 'bigint' ? new Date(Number(value)) : null;
}
