/**
 * The tus 1.0 core PATCH, read straight from the Node request into the
 * upload's appender. @tus/server 2 turns every request into a web
 * ReadableStream and back into Node streams (several layers, much garbage);
 * for a 1 GB upload that cost more CPU than the encryption. Creation, HEAD,
 * OPTIONS and DELETE stay with @tus/server; this handler takes the same
 * lock (the shared MemoryLocker) so HEAD never reads a half-written offset
 * and two PATCHes never append at once. The caller has authorised the
 * request and bound it to the upload (owner, request) before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, EXPOSED_HEADERS, TUS_RESUMABLE, type Locker } from '@tus/server';
import type { Uploads } from '../../transfer/uploads.js';

/** How long a PATCH that another request for its upload waits on may still read (the @tus/server default). */
const LOCK_DRAIN_TIMEOUT = 3000;
const OFFSET_CONTENT_TYPE = 'application/offset+octet-stream';

export interface TusAnswer {
  readonly status: number;
  readonly body: string;
}

export interface TusPatchDeps {
  readonly uploads: Uploads;
  readonly locker: Locker;
  /** Maps a failure (catalog error, tus error object) to the answer, as for the other tus requests. */
  readonly answerFor: (error: unknown) => TusAnswer;
  /** The completion path of the endpoint (makes the share); runs after the lock is released. */
  readonly finished: (id: string) => Promise<void>;
}

export async function handleTusPatch(req: IncomingMessage, res: ServerResponse, id: string, deps: TusPatchDeps): Promise<void> {
  let reading = false;
  const headers: Record<string, string> = { 'Tus-Resumable': TUS_RESUMABLE, 'Access-Control-Expose-Headers': EXPOSED_HEADERS };
  const answer = (status: number, body = '', extra: Record<string, string> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    const text = status === 204 ? '' : body;
    // A body read in part would hold the connection (Node dumps only bodies never read): close it after the answer.
    const close = reading && !req.complete ? { Connection: 'close' } : {};
    res.writeHead(status, { ...headers, ...close, ...extra, ...(text ? { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) } : {}) });
    res.end(text);
  };

  if (req.headers['tus-resumable'] === undefined) return answer(412, 'Tus-Resumable Required\n');
  if (req.headers['tus-resumable'] !== TUS_RESUMABLE) return answer(412, 'Unsupported version\n', { 'Tus-Version': TUS_RESUMABLE });
  const contentType = req.headers['content-type'];
  if (contentType?.trim().toLowerCase() !== OFFSET_CONTENT_TYPE) return answer(415, 'Content-Type must be application/offset+octet-stream\n');
  const offsetHeader = req.headers['upload-offset'];
  const offset = Number(offsetHeader);
  if (typeof offsetHeader !== 'string' || !Number.isSafeInteger(offset) || String(offset) !== offsetHeader || offset < 0) {
    return answer(400, 'Invalid upload-offset\n');
  }
  // The length is fixed at creation (no creation-defer-length).
  if (req.headers['upload-length'] !== undefined) return answer(ERRORS.UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION.status_code, ERRORS.UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION.body);
  const lengthHeader = req.headers['content-length'];
  const contentLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) return answer(400, 'Invalid content-length\n');

  // The client went away: stop waiting for the lock, answer nothing.
  const gone = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) gone.abort();
  };
  res.once('close', onClose);
  // Another request for this upload waits: end this one's body after a grace period (what arrived is kept).
  const superseded = new AbortController();
  let drainTimer: NodeJS.Timeout | undefined;
  const requestRelease = (): Promise<void> => {
    drainTimer ??= setTimeout(() => superseded.abort(), LOCK_DRAIN_TIMEOUT);
    return Promise.resolve();
  };

  let newOffset: number;
  let size: number;
  try {
    const lock = deps.locker.newLock(id);
    await lock.lock(gone.signal, requestRelease);
    try {
      const state = await deps.uploads.state(id);
      if (!state) throw ERRORS.FILE_NOT_FOUND;
      size = state.size;
      if (state.offset !== offset) throw ERRORS.INVALID_OFFSET;
      if (contentLength !== undefined && offset + contentLength > size) throw ERRORS.ERR_SIZE_EXCEEDED;
      reading = true;
      newOffset = await deps.uploads.append(id, offset, bodyUntil(req, superseded.signal));
      // The last byte: seal, scan and adopt under the same lock, so a HEAD or a retried PATCH meanwhile
      // waits for the result instead of finding (and touching) a half-finished upload.
      if (newOffset === size) await deps.finished(id);
    } finally {
      clearTimeout(drainTimer);
      await lock.unlock();
    }
  } catch (error) {
    res.off('close', onClose);
    if (gone.signal.aborted || (req.destroyed && !req.complete)) {
      // Disconnected: the appender kept what arrived; nobody is left to answer.
      return;
    }
    const failure = deps.answerFor(error);
    return answer(failure.status, failure.body);
  }
  res.off('close', onClose);
  answer(204, '', { 'Upload-Offset': String(newOffset) });
}

/** The request body, ending early (without destroying the request) once `stop` fires. */
async function* bodyUntil(req: IncomingMessage, stop: AbortSignal): AsyncGenerator<Buffer> {
  const iterator = (req as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  for (;;) {
    if (stop.aborted) return;
    const step = await new Promise<IteratorResult<Buffer> | undefined>((resolve, reject) => {
      const onStop = (): void => resolve(undefined);
      stop.addEventListener('abort', onStop, { once: true });
      iterator.next().then(
        (result) => {
          stop.removeEventListener('abort', onStop);
          resolve(result);
        },
        (error: unknown) => {
          stop.removeEventListener('abort', onStop);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
    if (step === undefined || step.done === true) return;
    yield step.value;
  }
}
