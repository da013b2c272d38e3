import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

export async function temporaryDirectory(prefix: string): Promise<{ readonly path: string; readonly cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `siegel-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export function newKey(): Buffer {
  return randomBytes(32);
}

export function newId(): string {
  return randomBytes(16).toString('hex');
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Yields `data` in pieces of the given sizes, cycling through them. */
export async function* chunked(data: Buffer, sizes: readonly number[] = [4093]): AsyncGenerator<Buffer> {
  let offset = 0;
  let turn = 0;
  while (offset < data.length) {
    const size = Math.max(1, sizes[turn % sizes.length]!);
    yield data.subarray(offset, offset + size);
    offset += size;
    turn += 1;
  }
}

/** Collects a stream; on error, the bytes emitted before it are reported too. */
export async function collect(stream: Readable): Promise<{ readonly data: Buffer; readonly error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { data: Buffer.concat(chunks) };
  } catch (error) {
    return { data: Buffer.concat(chunks), error };
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const result = await collect(stream);
  if (result.error !== undefined) throw result.error;
  return result.data;
}

/** A stream that delivers `data` up to `failAfter` bytes, then fails like a dropped connection. */
export function failingStream(data: Buffer, failAfter: number, chunkSize = 1000): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= failAfter) {
        this.destroy(new Error('connection dropped'));
        return;
      }
      const end = Math.min(offset + chunkSize, failAfter);
      this.push(data.subarray(offset, end));
      offset = end;
    },
  });
}
