/**
 * HarvestedStore on node:sqlite, in the same `<dataDir>/siegel.db` as the
 * identities (schema step 2 in sqlite-database.ts). Each call is one short
 * statement, so a CLI and `siegel serve` share the file without waiting on
 * each other for long.
 */
import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import { ReadCache } from './read-cache.js';
import { blob, SqliteConnection, text } from './sqlite-connection.js';
import { checkHarvestedRecord, type HarvestedRecord, type HarvestedStore, type HarvestSource, type HarvestState } from './harvested-store.js';
import { openSiegelDatabase } from './sqlite-database.js';

const COLUMNS =
  'address, fingerprint, certificate, subject, issuer, serial, not_before, not_after, capabilities, source, first_seen, last_seen, anchor_fingerprint, state';
const ORDER = 'ORDER BY address, not_before DESC, fingerprint';

type Row = Record<string, SQLOutputValue>;

export class SqliteHarvestedStore implements HarvestedStore {
  readonly file: string;
  readonly #conn: SqliteConnection;
  /** forAddress runs per recipient of outbound mail and per verified inbound message. */
  readonly #byAddress: ReadCache<readonly HarvestedRecord[]>;

  private constructor(db: DatabaseSync, file: string) {
    // Prepared statements are reused: the reply path looks a certificate up per recipient.
    this.#conn = new SqliteConnection(db, file, 'harvested certificate store');
    this.#byAddress = new ReadCache(this.#conn);
    this.file = file;
  }

  /** Opens (creating and migrating as needed) `<dataDir>/siegel.db`. */
  static open(dataDir: string, warn: (message: string) => void = () => {}): SqliteHarvestedStore {
    const { db, file } = openSiegelDatabase(dataDir, warn);
    return new SqliteHarvestedStore(db, file);
  }

  async put(record: HarvestedRecord): Promise<void> {
    checkHarvestedRecord(record);
    this.#byAddress.clear();
    this.run(
      'store harvested certificate',
      `INSERT INTO harvested_certificates (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (address, fingerprint) DO UPDATE SET certificate = excluded.certificate, subject = excluded.subject,
         issuer = excluded.issuer, serial = excluded.serial, not_before = excluded.not_before, not_after = excluded.not_after,
         capabilities = excluded.capabilities, source = excluded.source, first_seen = excluded.first_seen,
         last_seen = excluded.last_seen, anchor_fingerprint = excluded.anchor_fingerprint, state = excluded.state`,
      record.address.toLowerCase(),
      record.fingerprint,
      record.certificate,
      record.subject,
      record.issuer,
      record.serial,
      record.notBefore.getTime(),
      record.notAfter.getTime(),
      record.capabilities.join(' '),
      record.source,
      record.firstSeen.getTime(),
      record.lastSeen.getTime(),
      record.anchorFingerprint,
      record.state,
    );
  }

  async get(address: string, fingerprint: string): Promise<HarvestedRecord | undefined> {
    return this.select(`SELECT ${COLUMNS} FROM harvested_certificates WHERE address = ? AND fingerprint = ?`, normalize(address), fingerprint.toLowerCase())[0];
  }

  async forAddress(address: string): Promise<HarvestedRecord[]> {
    const key = normalize(address);
    return [...this.#byAddress.get(key, () => this.select(`SELECT ${COLUMNS} FROM harvested_certificates WHERE address = ? ${ORDER}`, key))];
  }

  async list(): Promise<HarvestedRecord[]> {
    return this.select(`SELECT ${COLUMNS} FROM harvested_certificates ${ORDER}`);
  }

  async remove(address: string, fingerprint: string): Promise<boolean> {
    this.#byAddress.clear();
    const changes = this.run(
      'remove harvested certificate',
      'DELETE FROM harvested_certificates WHERE address = ? AND fingerprint = ?',
      normalize(address),
      fingerprint.toLowerCase(),
    );
    return changes > 0;
  }

  async close(): Promise<void> {
    this.#conn.close();
  }

  private run(what: string, sql: string, ...params: Array<string | number | Buffer>): number {
    return this.#conn.guard(what, () => Number(this.#conn.statement(sql).run(...params).changes));
  }

  private select(sql: string, ...params: string[]): HarvestedRecord[] {
    return this.#conn.guard('read harvested certificates', () => this.#conn.statement(sql).all(...params).map(toRecord));
  }
}

function normalize(address: string): string {
  return address.trim().toLowerCase();
}

function toRecord(row: Row): HarvestedRecord {
  const capabilities = text(row.capabilities);
  return {
    address: text(row.address),
    certificate: blob(row.certificate) ?? Buffer.alloc(0),
    fingerprint: text(row.fingerprint),
    subject: text(row.subject),
    issuer: text(row.issuer),
    serial: text(row.serial),
    notBefore: date(row.not_before),
    notAfter: date(row.not_after),
    capabilities: capabilities === '' ? [] : capabilities.split(' '),
    source: text(row.source) as HarvestSource,
    firstSeen: date(row.first_seen),
    lastSeen: date(row.last_seen),
    anchorFingerprint: text(row.anchor_fingerprint),
    state: text(row.state) as HarvestState,
  };
}

function date(value: SQLOutputValue | undefined): Date {
  return new Date(Number(value ?? 0));
}
