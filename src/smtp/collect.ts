/**
 * Reads the DATA stream of smtp-server into memory, keeping at most
 * `limit` bytes: an oversized message is read to its end (the client must
 * get its answer after the final dot) but not kept.
 */
import type { Readable } from 'node:stream';

export interface CollectedMessage {
  readonly raw: Buffer;
  /** Bytes the client sent (also when more than were kept). */
  readonly size: number;
  readonly oversized: boolean;
  /** The client went away before the end of the message. */
  readonly aborted: boolean;
}

export function collectMessage(stream: Readable & { sizeExceeded?: boolean }, limit: number): Promise<CollectedMessage> {
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let kept = 0;
    let size = 0;
    let done = false;
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      const oversized = size > limit || stream.sizeExceeded === true;
      resolve({ raw: oversized || aborted ? Buffer.alloc(0) : Buffer.concat(chunks, kept), size, oversized, aborted });
      chunks = [];
    };
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        kept += chunk.length;
      } else if (kept > 0) {
        chunks = [];
        kept = 0;
      }
    });
    stream.once('end', () => finish(false));
    // smtp-server destroys the stream when the connection drops mid-message
    // (with an error when someone listens for it, which we do).
    stream.once('error', () => finish(true));
    stream.once('close', () => finish(true));
  });
}
