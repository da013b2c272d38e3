/**
 * Messages between the bulk crypto pool (bulk-pool.ts) and its workers
 * (bulk-worker.ts). Types only: the worker imports this file with
 * `import type`, so it loads without any other module of the project (under
 * jest the worker runs from its .ts source through Node's type stripping,
 * where `./x.js` imports of other source files would not resolve).
 *
 * A job streams its input in pieces: `start`, any number of `data`, `end`.
 * The worker answers every `data` with an `ack` (carrying the cipher output
 * for that piece, its ArrayBuffer transferred) and the job with `done` or
 * `error`. The pool keeps only a few pieces unacknowledged, so the memory
 * for copies stays a small constant (a few slots per worker), whatever the
 * message size; an acknowledged piece's memory may be reused at once.
 */

/** What a job computes. Names are node:crypto's ('sha256', 'aes-256-cbc', 'aes-256-gcm', ...). */
export type BulkOperation =
  | { readonly type: 'digest'; readonly algorithm: string }
  | {
      readonly type: 'cipher';
      readonly direction: 'encrypt' | 'decrypt';
      readonly cipher: string;
      readonly key: Uint8Array;
      readonly iv: Uint8Array;
      /** GCM: tag length in bytes (encryption and decryption). */
      readonly authTagLength?: number;
      /** GCM: additional authenticated data. */
      readonly aad?: Uint8Array;
      /** GCM decryption: the tag to check at the end. */
      readonly authTag?: Uint8Array;
    };

export type ToWorker =
  | { readonly kind: 'start'; readonly job: number; readonly operation: BulkOperation }
  /** A view onto a SharedArrayBuffer (the caller's memory or one of the pool's copy slots): read, never kept. */
  | { readonly kind: 'data'; readonly job: number; readonly bytes: Uint8Array }
  | { readonly kind: 'end'; readonly job: number };

/** An error as thrown by node:crypto in the worker, rebuilt on the main thread with the same class, message and code. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

export type FromWorker =
  /** Sent once the worker's module has loaded: only then does it count as started. */
  | { readonly kind: 'ready' }
  | { readonly kind: 'ack'; readonly job: number; readonly output?: Uint8Array }
  /** output: the digest, or the cipher's final() bytes; tag: the GCM tag of an encryption. */
  | { readonly kind: 'done'; readonly job: number; readonly output: Uint8Array; readonly tag?: Uint8Array }
  | { readonly kind: 'error'; readonly job: number; readonly error: SerializedError };
