/**
 * Reads the DATA stream of smtp-server into memory, keeping at most
 * `limit` bytes: an oversized message is read to its end (the client must
 * get its answer after the final dot) but not kept.
 *
 * Memory: when the client declared the size (MAIL FROM ... SIZE=n, RFC 1870,
 * as Outlook, Thunderbird and most MTAs do), the message is written into one
 * buffer of that size as it arrives, so it is held once, not twice as a list
 * of chunks plus their concatenation. A declared size is only a claim: the
 * buffer is allocated once 1 MB has really arrived, and all such buffers
 * together stay within a process-wide budget, so clients that declare large
 * sizes and send little cannot make the gateway reserve memory for them.
 */
import type { Readable } from 'node:stream';
import { noteBytesReceived } from './read-buffer-release.js';

export interface CollectedMessage {
  readonly raw: Buffer;
  /** Bytes the client sent (also when more than were kept). */
  readonly size: number;
  readonly oversized: boolean;
  /** The client went away before the end of the message. */
  readonly aborted: boolean;
}

/** Bytes received before a declared size is believed. */
const PREALLOCATE_AFTER = 1024 * 1024;
/** All preallocated buffers of this process together (bytes). */
export const PREALLOCATION_BUDGET = 256 * 1024 * 1024;
let reserved = 0;

export function collectMessage(stream: Readable & { sizeExceeded?: boolean }, limit: number, declaredSize?: number): Promise<CollectedMessage> {
  return new Promise((resolve) => {
    // The declared size counts the message as sent, with dot-stuffing and CRLF;
    // the unstuffed data is at most that long. Only plausible sizes count.
    const declared =
      declaredSize !== undefined && Number.isSafeInteger(declaredSize) && declaredSize > PREALLOCATE_AFTER && declaredSize <= limit ? declaredSize : 0;
    let buffer: Buffer | undefined;
    let reservation = 0;
    let chunks: Buffer[] = [];
    let kept = 0;
    let size = 0;
    let done = false;
    const release = () => {
      reserved -= reservation;
      reservation = 0;
    };
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      const oversized = size > limit || stream.sizeExceeded === true;
      const raw = oversized || aborted ? Buffer.alloc(0) : buffer ? buffer.subarray(0, kept) : Buffer.concat(chunks, kept);
      buffer = undefined;
      chunks = [];
      release();
      resolve({ raw, size, oversized, aborted });
    };
    const preallocate = () => {
      if (!declared || buffer || kept < PREALLOCATE_AFTER || kept >= declared || reserved + declared > PREALLOCATION_BUDGET) return;
      reservation = declared;
      reserved += declared;
      buffer = Buffer.allocUnsafe(declared);
      let pos = 0;
      for (const c of chunks) pos += c.copy(buffer, pos);
      chunks = [];
    };
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      noteBytesReceived(chunk.length);
      if (size > limit) {
        buffer = undefined;
        chunks = [];
        kept = 0;
        release();
        return;
      }
      if (buffer && kept + chunk.length <= buffer.length) {
        kept += chunk.copy(buffer, kept);
        return;
      }
      if (buffer) {
        // More than declared: continue as a chunk list from what we have.
        chunks = [buffer.subarray(0, kept)];
        buffer = undefined;
      }
      chunks.push(chunk);
      kept += chunk.length;
      preallocate();
    });
    stream.once('end', () => finish(false));
    // smtp-server destroys the stream when the connection drops mid-message
    // (with an error when someone listens for it, which we do).
    stream.once('error', () => finish(true));
    stream.once('close', () => finish(true));
  });
}
