/**
 * A small pool of worker threads for bulk hashing and encryption of large
 * messages (bulk-crypto.ts decides what is large). One job per worker at a
 * time; jobs beyond the pool's size wait for a free worker.
 *
 * Lifecycle: workers start with the first job and never keep a process
 * alive while idle (bulk-thread.ts), so a CLI filter or a test ends when
 * its work is done; one idle for a minute is ended, so its memory comes
 * back after a burst of large messages. A worker that dies is replaced by the next job; the job
 * it was running rejects with WorkerLost, on which the caller computes
 * inline. Workers that cannot even start (three times in a
 * row) switch the pool off: everything is then computed inline, slower for
 * other connections but never wrong.
 */
import { availableParallelism } from 'node:os';
import type { BulkOperation } from './bulk-protocol.js';
import { PoolWorker, WorkerLost, type JobOutput } from './bulk-thread.js';

/** Consecutive workers that died before their module had loaded (no 'ready') after which the pool gives up. */
const MAX_START_FAILURES = 3;
/** A worker idle this long is ended: each holds about 14 MB, and large messages come in bursts. */
const IDLE_MS = 60_000;

export class BulkPool {
  readonly #size: number;
  readonly #idleMs: number;
  readonly #workers = new Set<PoolWorker>();
  readonly #idle: PoolWorker[] = [];
  readonly #idleTimers = new Map<PoolWorker, NodeJS.Timeout>();
  readonly #waiting: ((worker: PoolWorker | undefined) => void)[] = [];
  #startFailures = 0;
  #closed = false;
  /** Resolves close() once the last worker has exited. */
  #drained: (() => void) | undefined;

  readonly #workerFile: URL | undefined;

  /** `workerFile` replaces the worker module, for tests of a worker that cannot load. */
  constructor(size: number, options: { readonly idleMs?: number; readonly workerFile?: URL } = {}) {
    this.#size = size;
    this.#idleMs = options.idleMs ?? IDLE_MS;
    this.#workerFile = options.workerFile;
  }

  /** false once workers could not be started: callers compute inline. */
  get available(): boolean {
    return this.#startFailures < MAX_START_FAILURES && !this.#closed;
  }

  #completed = 0;
  #lost = 0;

  /** Workers alive, jobs completed by a worker (errors included), jobs lost with their worker. */
  get stats(): { readonly workers: number; readonly completed: number; readonly lost: number } {
    return { workers: this.#workers.size, completed: this.#completed, lost: this.#lost };
  }

  /** Rejects with WorkerLost when there is no worker to run it (the pool is off or closed) or it died meanwhile. */
  async run(operation: BulkOperation, chunks: readonly Uint8Array[]): Promise<JobOutput> {
    const worker = await this.#acquire();
    if (!worker) throw new WorkerLost('the pool is not available');
    try {
      const output = await worker.run(operation, chunks);
      this.#completed++;
      return output;
    } catch (err) {
      if (err instanceof WorkerLost) this.#lost++;
      else this.#completed++;
      throw err;
    } finally {
      this.#release(worker);
    }
  }

  /** Terminates idle workers now and busy ones when their job is done. */
  close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter(undefined);
    // Busy workers are terminated in #release, when their job is done.
    for (const worker of this.#idle.splice(0)) {
      clearTimeout(this.#idleTimers.get(worker));
      void worker.terminate();
    }
    this.#idleTimers.clear();
    if (this.#workers.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }

  /**
   * Terminates every worker at once, busy or not, as a crash would: their
   * jobs reject with WorkerLost and later jobs start fresh workers. For
   * tests of exactly that.
   */
  killWorkers(): Promise<void> {
    return Promise.all([...this.#workers].map((worker) => worker.terminate())).then(() => undefined);
  }

  #acquire(): Promise<PoolWorker | undefined> {
    if (!this.available) return Promise.resolve(undefined);
    const idle = this.#idle.pop();
    if (idle) {
      clearTimeout(this.#idleTimers.get(idle));
      this.#idleTimers.delete(idle);
      return Promise.resolve(idle);
    }
    if (this.#workers.size < this.#size) {
      let worker: PoolWorker;
      try {
        worker = new PoolWorker((gone, startedOk) => this.#onExit(gone, startedOk), this.#workerFile);
      } catch {
        // No thread could be made (ERR_WORKER_INIT_FAILED): counts as a failed start; this job is computed inline.
        this.#startFailures++;
        return Promise.resolve(undefined);
      }
      this.#workers.add(worker);
      return Promise.resolve(worker);
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(worker: PoolWorker): void {
    if (worker.exited) return;
    if (this.#closed) {
      void worker.terminate();
      return;
    }
    const waiter = this.#waiting.shift();
    if (waiter) {
      waiter(worker);
      return;
    }
    this.#idle.push(worker);
    const timer = setTimeout(() => {
      this.#idleTimers.delete(worker);
      const index = this.#idle.indexOf(worker);
      if (index >= 0) this.#idle.splice(index, 1);
      void worker.terminate();
    }, this.#idleMs);
    // Never what keeps a process alive.
    timer.unref();
    this.#idleTimers.set(worker, timer);
  }

  #onExit(worker: PoolWorker, startedOk: boolean): void {
    this.#workers.delete(worker);
    clearTimeout(this.#idleTimers.get(worker));
    this.#idleTimers.delete(worker);
    const index = this.#idle.indexOf(worker);
    if (index >= 0) this.#idle.splice(index, 1);
    if (this.#closed) {
      if (this.#workers.size === 0) this.#drained?.();
      return;
    }
    this.#startFailures = startedOk ? 0 : this.#startFailures + 1;
    // A job waiting for a worker gets a fresh one. When none can be had (the pool switched off, or no thread
    // could be made), every waiting job is released to compute inline: no worker is left to release them later.
    const waiter = this.#waiting.shift();
    if (waiter) {
      void this.#acquire().then((next) => {
        waiter(next);
        if (!next) for (const other of this.#waiting.splice(0)) other(undefined);
      });
    }
  }
}

let pool: BulkPool | undefined;

/** The process-wide pool, created on first use (it starts no worker until a job comes). */
export function bulkPool(): BulkPool {
  pool ??= new BulkPool(Math.max(1, Math.min(2, availableParallelism())));
  return pool;
}

/**
 * Stops the pool's workers (after their current jobs). Called when the
 * server stops; a later job starts a new pool, so several gateways in one
 * process (tests) do not break each other's work.
 */
export async function closeBulkPool(): Promise<void> {
  const closing = pool;
  pool = undefined;
  await closing?.close();
}
