import { SiegelError } from '../errors.js';

/** Reads a whole stream into memory, refusing more than `limit` bytes. */
export async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) throw new SiegelError('MESSAGE_TOO_LARGE', `input exceeds the limit of ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}
