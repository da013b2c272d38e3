/**
 * One worker thread of the bulk pool (bulk-worker.ts runs in it) and the
 * job it runs: the input streamed in pieces through a small window, the
 * output collected, the worker's errors rebuilt as node:crypto's own.
 * Unref'd while idle, ref'd while a job runs (so a process whose only
 * pending work is that job does not exit under it).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BulkOperation, FromWorker, SerializedError, ToWorker } from './bulk-protocol.js';
import { PIECE_BYTES, pieces } from './bulk-pieces.js';

/**
 * Pieces posted and not yet acknowledged per job: keeps the worker busy.
 * Also the number of copy slots per worker: a slot is reused only after the
 * piece that used it before was acknowledged (bulk-pieces.ts).
 */
const WINDOW = 4;

export interface JobOutput {
  /** Cipher output per piece, in order (empty for a digest). */
  readonly outputs: Buffer[];
  /** The digest, or the cipher's final() bytes. */
  readonly final: Buffer;
  readonly tag?: Buffer;
}

/** The worker running a job went away (crashed, was terminated): the job's result is unknown, compute it another way. */
export class WorkerLost extends Error {
  constructor(detail: string) {
    super(`bulk crypto worker lost: ${detail}`);
    this.name = 'WorkerLost';
  }
}

/*
 * Under jest this module runs from src/crypto/bulk-pool.ts and the worker from
 * its .ts source (Node 24 strips the types); after the build both are .js
 * files in dist/crypto/. The extension of this very module tells which.
 */
const WORKER_FILE = new URL(`./bulk-worker${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);

interface ActiveJob {
  readonly id: number;
  onMessage(message: Exclude<FromWorker, { readonly kind: 'ready' }>): void;
  onLost(error: WorkerLost): void;
}

let nextJobId = 0;

export class PoolWorker {
  readonly #worker: Worker;
  #job: ActiveJob | undefined;
  #online = false;
  #exited = false;
  /** Shared memory for copied pieces, allocated with the first input that needs copying. */
  #slots: Uint8Array[] | undefined;

  /** `file`: the worker module (another one only in tests of what happens when it cannot load). */
  constructor(onExit: (worker: PoolWorker, startedOk: boolean) => void, file: URL = WORKER_FILE) {
    this.#worker = new Worker(file);
    this.#worker.unref();
    this.#worker.on('message', (message: FromWorker) => {
      if (message.kind === 'ready') this.#online = true;
      else if (this.#job && message.job === this.#job.id) this.#job.onMessage(message);
    });
    let cause = 'exited';
    this.#worker.on('error', (err) => {
      cause = err.message;
    });
    this.#worker.on('exit', (code) => {
      this.#exited = true;
      const job = this.#job;
      this.#job = undefined;
      job?.onLost(new WorkerLost(`${cause} (exit code ${code})`));
      onExit(this, this.#online);
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  run(operation: BulkOperation, chunks: readonly Uint8Array[]): Promise<JobOutput> {
    return new Promise<JobOutput>((resolve, reject) => {
      const id = ++nextJobId;
      const input = pieces(chunks, (n) => this.#slot(n % WINDOW));
      const outputs: Buffer[] = [];
      let inFlight = 0;
      let ended = false;
      const post = (message: ToWorker) => this.#worker.postMessage(message);
      const pump = () => {
        while (!ended && inFlight < WINDOW) {
          const next = input.next();
          if (next.done) {
            ended = true;
            post({ kind: 'end', job: id });
            return;
          }
          post({ kind: 'data', job: id, bytes: next.value.bytes });
          inFlight++;
        }
      };
      const finish = () => {
        this.#job = undefined;
        ended = true;
        this.#worker.unref();
      };
      this.#job = {
        id,
        onMessage: (message) => {
          if (message.kind === 'ack') {
            inFlight--;
            if (message.output && message.output.byteLength > 0) outputs.push(asBuffer(message.output));
            try {
              pump();
            } catch (err) {
              // Runs in the worker's message event: a throw here would be an uncaught exception of the gateway.
              finish();
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          } else if (message.kind === 'done') {
            finish();
            resolve({ outputs, final: asBuffer(message.output), ...(message.tag ? { tag: asBuffer(message.tag) } : {}) });
          } else {
            finish();
            reject(rebuildError(message.error));
          }
        },
        onLost: (error) => {
          finish();
          reject(error);
        },
      };
      this.#worker.ref();
      try {
        post({ kind: 'start', job: id, operation });
        pump();
      } catch (err) {
        // E.g. the shared slots could not be allocated: the job fails (and is computed inline), the worker stays usable and unref'd.
        finish();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  #slot(index: number): Uint8Array {
    this.#slots ??= Array.from({ length: WINDOW }, () => new Uint8Array(new SharedArrayBuffer(PIECE_BYTES)));
    return this.#slots[index] as Uint8Array;
  }

  terminate(): Promise<void> {
    return this.#worker.terminate().then(() => undefined);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The worker's node:crypto error as the inline code would have thrown it: same class, message and code. */
function rebuildError(serialized: SerializedError): Error {
  const Class = serialized.name === 'TypeError' ? TypeError : serialized.name === 'RangeError' ? RangeError : Error;
  const error = new Class(serialized.message);
  if (error.name !== serialized.name) error.name = serialized.name;
  if (serialized.code !== undefined) Object.assign(error, { code: serialized.code });
  return error;
}
