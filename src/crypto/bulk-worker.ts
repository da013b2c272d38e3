/**
 * Worker thread of the bulk crypto pool: hashes, encrypts and decrypts the
 * pieces the pool streams to it (protocol in bulk-protocol.ts), so that
 * hashing or encrypting a 50 MB message does not stall the SMTP connections
 * served by the main thread.
 *
 * Imports nothing of the project at run time (only types): under jest this
 * file runs from source through Node's type stripping, from dist/ after the
 * build; both work only without relative value imports.
 */
import { createCipheriv, createDecipheriv, createHash, type CipherGCM, type Cipheriv, type Decipheriv, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { BulkOperation, FromWorker, SerializedError, ToWorker } from './bulk-protocol.js';

interface Running {
  readonly job: number;
  readonly digest?: Hash;
  readonly cipher?: Cipheriv | Decipheriv;
  /** An authenticated encryption (GCM), whose tag is sent with the final bytes. */
  readonly tagged?: boolean;
  /** After an error the rest of the job's pieces are ignored. */
  failed: boolean;
}

const port = parentPort;
if (!port) throw new Error('bulk-worker.ts runs only as a worker thread');

let running: Running | undefined;

port.on('message', (message: ToWorker) => {
  if (message.kind === 'start') {
    running = { job: message.job, failed: false };
    try {
      running = { ...start(message.operation), job: message.job, failed: false };
    } catch (err) {
      fail(running, err);
    }
    return;
  }
  const job = running;
  if (!job || job.job !== message.job || job.failed) return;
  try {
    if (message.kind === 'data') onData(job, message.bytes);
    else onEnd(job);
  } catch (err) {
    fail(job, err);
  }
});

function start(operation: BulkOperation): Omit<Running, 'job' | 'failed'> {
  if (operation.type === 'digest') return { digest: createHash(operation.algorithm) };
  const options = operation.authTagLength !== undefined ? { authTagLength: operation.authTagLength } : undefined;
  // The mode-specific overloads of createCipheriv are chosen by the name; the name is data here.
  const name = operation.cipher as 'aes-256-gcm';
  if (operation.direction === 'encrypt') {
    const cipher = createCipheriv(name, operation.key, operation.iv, options);
    if (operation.aad) cipher.setAAD(operation.aad);
    return { cipher, tagged: operation.authTagLength !== undefined };
  }
  const decipher = createDecipheriv(name, operation.key, operation.iv, options);
  if (operation.authTag) decipher.setAuthTag(operation.authTag);
  if (operation.aad) decipher.setAAD(operation.aad);
  return { cipher: decipher };
}

function onData(job: Running, bytes: Uint8Array): void {
  if (job.digest) {
    job.digest.update(bytes);
    send({ kind: 'ack', job: job.job });
    return;
  }
  const output = (job.cipher as Cipheriv).update(bytes);
  const transferable = ownBuffer(output);
  send({ kind: 'ack', job: job.job, output: transferable }, [transferable.buffer as ArrayBuffer]);
}

function onEnd(job: Running): void {
  running = undefined;
  if (job.digest) {
    send({ kind: 'done', job: job.job, output: new Uint8Array(job.digest.digest()) });
    return;
  }
  const output = new Uint8Array((job.cipher as Cipheriv | Decipheriv).final());
  const tag = job.tagged ? new Uint8Array((job.cipher as CipherGCM).getAuthTag()) : undefined;
  send({ kind: 'done', job: job.job, output, ...(tag ? { tag } : {}) });
}

/** A view that owns its whole, unshared ArrayBuffer, so it can be transferred without detaching anything else. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer);
  return whole ? bytes : new Uint8Array(bytes);
}

function fail(job: Running, err: unknown): void {
  job.failed = true;
  if (running === job) running = undefined;
  send({ kind: 'error', job: job.job, error: serialize(err) });
}

function serialize(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
}

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  (port as NonNullable<typeof port>).postMessage(message, transfer);
}

// Last: a worker whose module failed to load (a missing file, a broken import) never says this, and the pool
// counts it as a failed start ('online' alone comes even then).
send({ kind: 'ready' });
