/**
 * Reads the content handed to a blob store, telling the content's own
 * failure (a dropped upload: what arrived may be kept) apart from a failure
 * of the consumer (too large, disk full: the content is abandoned).
 */
import type { BlobContent } from './blob-store.js';
import { SiegelError } from '../errors.js';

export type PumpResult = { readonly status: 'done' } | { readonly status: 'input-failed'; readonly error: unknown };

/** Feeds every chunk to `sink`; a sink error stops (and destroys) the input and is thrown. */
export async function pumpContent(content: BlobContent, sink: (chunk: Buffer) => Promise<void>): Promise<PumpResult> {
  const iterator = (content as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (error) {
        finished = true;
        return { status: 'input-failed', error };
      }
      if (step.done === true) {
        finished = true;
        return { status: 'done' };
      }
      await sink(toBuffer(step.value));
    }
  } finally {
    if (!finished) await iterator.return?.().catch(() => undefined);
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new SiegelError('INTERNAL', 'blob content must be binary chunks');
}
