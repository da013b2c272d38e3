/**
 * IssuerStore on node:sqlite, in `<dataDir>/siegel.db` beside the harvested
 * certificates (schema step 6 in sqlite-database.ts). A put of a known
 * certificate is a read (plus a write at most once a day), so harvesting
 * from every verified message costs no write transaction per message.
 */
import type { DatabaseSync } from 'node:sqlite';
import { certificateKey } from '../pki/memo.js';
import { ReadCache } from './read-cache.js';
import { blob, SqliteConnection } from './sqlite-connection.js';
import { openSiegelDatabase } from './sqlite-database.js';
import { ISSUER_SEEN_RESOLUTION_MS, issuerEntry, MAX_ISSUER_CERTIFICATES, type IssuerPutResult, type IssuerStore } from './issuer-store.js';

export interface SqliteIssuerStoreOptions {
  /** Rows kept at most (tests lower it). */
  readonly limit?: number;
}

export class SqliteIssuerStore implements IssuerStore {
  readonly file: string;
  readonly #conn: SqliteConnection;
  readonly #limit: number;
  /**
   * put runs for every verified message with the signer's CAs: when each
   * certificate (by content) was last found or written, so a known one costs
   * neither parsing nor a query until last_seen is due again.
   */
  readonly #confirmed: ReadCache<number>;

  private constructor(db: DatabaseSync, file: string, limit: number) {
    this.#conn = new SqliteConnection(db, file, 'issuer certificate store');
    this.#confirmed = new ReadCache(this.#conn);
    this.file = file;
    this.#limit = limit;
  }

  /** Opens (creating and migrating as needed) `<dataDir>/siegel.db`. */
  static open(dataDir: string, warn: (message: string) => void = () => {}, options: SqliteIssuerStoreOptions = {}): SqliteIssuerStore {
    const { db, file } = openSiegelDatabase(dataDir, warn);
    return new SqliteIssuerStore(db, file, Math.max(1, options.limit ?? MAX_ISSUER_CERTIFICATES));
  }

  async put(certificate: Buffer, at: Date): Promise<IssuerPutResult> {
    const now = at.getTime();
    const key = certificateKey(certificate);
    const confirmed = this.#confirmed.peek(key);
    if (confirmed !== undefined && now - confirmed < ISSUER_SEEN_RESOLUTION_MS) return 'known';
    const entry = issuerEntry(certificate);
    if (!entry) return 'refused';
    const result = this.#store(certificate, entry, now);
    this.#confirmed.set(key, now);
    return result;
  }

  #store(certificate: Buffer, entry: NonNullable<ReturnType<typeof issuerEntry>>, now: number): IssuerPutResult {
    return this.#conn.guard('store issuer certificate', () => {
      const known = this.#conn.statement('SELECT last_seen FROM issuer_certificates WHERE fingerprint = ?').get(entry.fingerprint);
      if (known) {
        if (now - Number(known.last_seen) >= ISSUER_SEEN_RESOLUTION_MS) {
          this.#conn.statement('UPDATE issuer_certificates SET last_seen = ? WHERE fingerprint = ?').run(now, entry.fingerprint);
        }
        return 'known';
      }
      // One transaction: a CLI and the gateway storing at once must not both evict, nor leave more rows than the bound.
      const db = this.#conn.db;
      db.exec('BEGIN IMMEDIATE');
      try {
        this.#conn
          .statement(
            `INSERT INTO issuer_certificates (fingerprint, subject, certificate, not_after, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (fingerprint) DO NOTHING`,
          )
          .run(entry.fingerprint, entry.subject, Buffer.from(certificate), entry.notAfter.getTime(), now, now);
        const rows = Number(this.#conn.statement('SELECT count(*) AS n FROM issuer_certificates').get()?.n ?? 0);
        if (rows > this.#limit) {
          // The least recently seen go first; the one just stored stays (ties broken by fingerprint, never by chance).
          this.#conn
            .statement(
              `DELETE FROM issuer_certificates WHERE fingerprint IN (
                 SELECT fingerprint FROM issuer_certificates WHERE fingerprint <> ? ORDER BY last_seen, first_seen, fingerprint LIMIT ?)`,
            )
            .run(entry.fingerprint, rows - this.#limit);
          // The evicted ones must not stay 'known' in memory, or they would not be written again when seen.
          this.#confirmed.clear();
        }
        db.exec('COMMIT');
      } catch (err) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // the transaction is gone already (SQLite rolled it back): the first error is the one to report
        }
        throw err;
      }
      return 'added';
    });
  }

  async forSubject(subject: string): Promise<Buffer[]> {
    return this.#conn.guard('read issuer certificates', () =>
      this.#conn
        .statement('SELECT certificate FROM issuer_certificates WHERE subject = ? ORDER BY last_seen DESC, fingerprint')
        .all(subject)
        .map((row) => blob(row.certificate))
        .filter((der): der is Buffer => der !== null),
    );
  }

  async count(): Promise<number> {
    return this.#conn.guard('count issuer certificates', () => Number(this.#conn.statement('SELECT count(*) AS n FROM issuer_certificates').get()?.n ?? 0));
  }

  async close(): Promise<void> {
    this.#conn.close();
  }
}
