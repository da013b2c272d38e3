/**
 * Answers of per-message reads (which identity signs for this sender, which
 * certificate a recipient has) kept until the database changes. The store
 * clears the cache on its own writes; PRAGMA data_version tells about
 * commits by other connections, i.e. a CLI (`siegel enroll import`,
 * `siegel certs import`) changing siegel.db while the gateway runs.
 */
import type { SqliteConnection } from './sqlite-connection.js';

export class ReadCache<V> {
  readonly #entries = new Map<string, V>();
  #dataVersion = -1;

  constructor(
    private readonly conn: SqliteConnection,
    /** Lookups for unknown addresses are kept too; this bounds what senders can make us hold. */
    private readonly limit = 4096,
  ) {}

  get(key: string, read: () => V): V {
    const cached = this.peek(key);
    if (cached !== undefined) return cached;
    const value = read();
    this.set(key, value);
    return value;
  }

  /** The kept value, unless the database changed since it was kept. */
  peek(key: string): V | undefined {
    const version = this.conn.guard('read the data version', () => Number(this.conn.statement('PRAGMA data_version').get()?.['data_version']));
    if (version !== this.#dataVersion) {
      this.#entries.clear();
      this.#dataVersion = version;
    }
    return this.#entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.#entries.size >= this.limit) this.#entries.clear();
    this.#entries.set(key, value);
  }

  /** After a write through this connection (data_version does not count those). */
  clear(): void {
    this.#entries.clear();
  }
}
