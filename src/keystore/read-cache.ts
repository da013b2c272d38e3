/**
 * Answers of per-message reads (which identity signs for this sender, which
 * certificate a recipient has) kept until the database changes. The store
 * clears the cache on its own writes; PRAGMA data_version tells about
 * commits by other connections, i.e. a CLI (`siegel enroll import`,
 * `siegel certs import`) changing siegel.db while the gateway runs.
 * That version is read at most every FRESH_MS, not per lookup: a busy
 * gateway looks up several addresses for each of hundreds of messages a
 * second, and another process's commit is seen within FRESH_MS. A write
 * through any cached store of this process makes every cache read it again
 * at its next lookup, so this process's own writes are seen at once.
 */
import type { SqliteConnection } from './sqlite-connection.js';

/** How long a read data version is relied on: far below anything a person or a script could notice. */
export const FRESH_MS = 10;

/** Counts writes through cached stores of this process (see clear()). */
let writesInProcess = 0;

export class ReadCache<V> {
  readonly #entries = new Map<string, V>();
  #dataVersion = -1;
  /** When the data version was read (performance.now()). */
  #versionReadAt = -Infinity;
  #writesSeen = 0;

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
    // A closed store fails as it did when every lookup read the version, not with a kept answer.
    this.conn.ensureOpen();
    const now = performance.now();
    if (now - this.#versionReadAt >= FRESH_MS || this.#writesSeen !== writesInProcess) {
      const version = this.conn.guard('read the data version', () => Number(this.conn.statement('PRAGMA data_version').get()?.['data_version']));
      if (version !== this.#dataVersion) {
        this.#entries.clear();
        this.#dataVersion = version;
      }
      this.#writesSeen = writesInProcess;
      this.#versionReadAt = now;
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
    writesInProcess++;
  }
}
