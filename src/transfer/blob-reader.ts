/**
 * Streams the authenticated plaintext of a sealed blob file, whole or a
 * byte range, decrypting only the records the range covers (their position
 * is arithmetic: records have a fixed size). A record's bytes are passed on
 * only after its tag verified, so a consumer sees an error, never wrong
 * bytes; the final record is always authenticated too, so a cut file fails
 * even when the range does not reach its end.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SiegelError } from '../errors.js';
import { readExactly } from './blob-files.js';
import { BlobCipher, HEADER_SIZE, TAG_SIZE, sealedLayout } from './file-crypto.js';
import type { ByteRange } from './types.js';

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
    for (let index = first; index <= through; index += 1) {
      const plaintext = cipher.openRecord(index, index === last, await readExactly(file, sealedLength(index), cipher.recordPosition(index)));
      const recordStart = index * recordSize;
      const from = Math.max(start - recordStart, 0);
      const to = Math.min(end - recordStart + 1, plaintext.length);
      yield from === 0 && to === plaintext.length ? plaintext : plaintext.subarray(from, to);
    }
  } finally {
    await file.close();
  }
}
