/**
 * Streams the authenticated plaintext of a sealed blob file, whole or a
 * byte range, decrypting only the records the range covers (their position
 * is arithmetic: records have a fixed size). A record's bytes are passed on
 * only after its tag verified, so a consumer sees an error, never wrong
 * bytes; the final record is always authenticated too, so a cut file fails
 * even when the range does not reach its end.
 *
 * Records are read in batches of about 1 MiB, the next batch while the
 * current one is decrypted and sent (one read ahead): far fewer system
 * calls and allocations than one read per record. The two batch buffers
 * are reused in turn (a batch is decrypted, copied out, before its buffer
 * is read into again), so memory stays at two batches per download and the
 * garbage at the plaintext alone.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SiegelError } from '../errors.js';
import { readExactly } from './blob-files.js';
import { BlobCipher, HEADER_SIZE, TAG_SIZE, sealedLayout } from './file-crypto.js';
import type { ByteRange } from './types.js';

/** Bytes of sealed records read at once. */
const BATCH_BYTES = 1024 * 1024;

export function readSealedBlob(path: string, key: Buffer, range?: ByteRange): Readable {
  return Readable.from(plaintextRecords(path, key, range), { objectMode: false, highWaterMark: 64 * 1024 });
}

async function* plaintextRecords(path: string, key: Buffer, range: ByteRange | undefined): AsyncGenerator<Buffer> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new SiegelError('NOT_FOUND', 'no such blob');
    throw new SiegelError('INTERNAL', 'blob could not be opened', { cause: error });
  }
  let ahead: Promise<{ readonly from: number; readonly to: number; readonly bytes: Buffer }> | undefined;
  try {
    const cipher = BlobCipher.open(key, await readExactly(file, HEADER_SIZE, 0));
    const { size, records, finalLength } = sealedLayout((await file.stat()).size, cipher.recordSize);
    const { start, end } = range ?? { start: 0, end: size - 1 };
    if (size === 0 && range === undefined) {
      cipher.openRecord(0, true, await readExactly(file, TAG_SIZE, cipher.recordPosition(0)));
      return;
    }
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end >= size) {
      throw new SiegelError('INTERNAL', `range ${start}-${end} outside a blob of ${size} bytes`);
    }
    const recordSize = cipher.recordSize;
    const last = records - 1;
    const sealedLength = (index: number): number => (index === last ? finalLength : recordSize) + TAG_SIZE;
    const first = Math.floor(start / recordSize);
    const through = Math.floor(end / recordSize);
    if (through !== last) {
      cipher.openRecord(last, true, await readExactly(file, sealedLength(last), cipher.recordPosition(last)));
    }
    const perBatch = Math.max(1, Math.floor(BATCH_BYTES / (recordSize + TAG_SIZE)));
    const buffers = [0, 1].map(() => Buffer.allocUnsafe(Math.min(perBatch, through - first + 1) * (recordSize + TAG_SIZE)));
    let turn = 0;
    const readBatch = (from: number) => {
      const to = Math.min(through, from + perBatch - 1);
      const length = cipher.recordPosition(to) - cipher.recordPosition(from) + sealedLength(to);
      const into = buffers[turn++ % 2];
      const batch = readExactly(file, length, cipher.recordPosition(from), into).then((bytes) => ({ from, to, bytes }));
      // Handled when awaited; until then a failure must not count as unhandled.
      batch.catch(() => undefined);
      return batch;
    };
    ahead = readBatch(first);
    while (ahead !== undefined) {
      const batch: { readonly from: number; readonly to: number; readonly bytes: Buffer } = await ahead;
      const { from: batchStart, to: batchEnd, bytes } = batch;
      ahead = batchEnd < through ? readBatch(batchEnd + 1) : undefined;
      for (let index = batchStart; index <= batchEnd; index += 1) {
        const at = cipher.recordPosition(index) - cipher.recordPosition(batchStart);
        const plaintext = cipher.openRecord(index, index === last, bytes.subarray(at, at + sealedLength(index)));
        const recordStart = index * recordSize;
        const from = Math.max(start - recordStart, 0);
        const to = Math.min(end - recordStart + 1, plaintext.length);
        yield from === 0 && to === plaintext.length ? plaintext : plaintext.subarray(from, to);
      }
    }
  } finally {
    // A read still under way must end before its file handle is closed.
    await ahead?.catch(() => undefined);
    await file.close();
  }
}
