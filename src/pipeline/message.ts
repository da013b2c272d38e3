/** Building and reading PipelineMessages. */
import type { Envelope, PipelineMessage } from './types.js';

export function pipelineMessage(envelope: Envelope, bytes: Buffer | readonly Buffer[]): PipelineMessage {
  const chunks = Buffer.isBuffer(bytes) ? [bytes] : coalesce(bytes);
  let size = 0;
  for (const c of chunks) size += c.length;
  return { envelope, chunks, size };
}

/** The message as one Buffer: the chunk itself when there is one, else a copy. */
export function contiguous(message: PipelineMessage): Buffer {
  if (message.chunks.length === 1) return message.chunks[0] as Buffer;
  return Buffer.concat(message.chunks, message.size);
}

/**
 * The first bytes of the message, enough to hold its header block (up to the
 * first empty line) or `limit` bytes. Copies only the header bytes, and only
 * when the header spans chunks.
 */
export function leadingBytes(message: PipelineMessage, limit: number): Buffer {
  const first = message.chunks[0];
  if (!first) return Buffer.alloc(0);
  if (message.chunks.length === 1 || first.length >= limit || headerEnd(first) >= 0) {
    // A view; cut at `limit` when the header does not end before it, or every reader of a
    // 10 MB header would split all its fields (about 170 MB of objects, issue 7).
    const end = headerEnd(first);
    return end >= 0 && end <= limit ? first : first.subarray(0, limit);
  }
  const taken: Buffer[] = [];
  let size = 0;
  for (const chunk of message.chunks) {
    // Look at the seam too: the empty line may start in the previous chunk.
    const seamStart = Math.min(size, 3);
    const window = Buffer.concat([...tailBytes(taken, seamStart), chunk.subarray(0, Math.min(chunk.length, limit - size))]);
    const end = headerEnd(window);
    if (end >= 0) {
      taken.push(chunk.subarray(0, end - seamStart));
      size += end - seamStart;
      break;
    }
    const part = chunk.subarray(0, Math.min(chunk.length, limit - size));
    taken.push(part);
    size += part.length;
    if (size >= limit) break;
  }
  return Buffer.concat(taken, size);
}

/** Offset just past the first empty line (CRLF CRLF or LF LF), or -1. */
function headerEnd(buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return -1;
  if (crlf < 0) return lf + 2;
  if (lf < 0) return crlf + 4;
  return Math.min(crlf + 4, lf + 2);
}

/** The last `count` bytes of a chunk list, as views. */
function tailBytes(chunks: readonly Buffer[], count: number): Buffer[] {
  const out: Buffer[] = [];
  let need = count;
  for (let i = chunks.length - 1; i >= 0 && need > 0; i--) {
    const chunk = chunks[i] as Buffer;
    const take = Math.min(need, chunk.length);
    out.unshift(chunk.subarray(chunk.length - take));
    need -= take;
  }
  return out;
}

/** Writes the chunks to a stream, respecting back-pressure. */
export async function writeChunks(stream: NodeJS.WritableStream, chunks: readonly Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    const ok = stream.write(chunk);
    if (!ok) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
  }
}

/** Chunks smaller than this are merged with their neighbours. */
const SMALL_CHUNK = 64 * 1024;

/**
 * Merges runs of small chunks (generated headers, base64 lines, short
 * parts) into one buffer each, so a message goes to a socket or file in a
 * few writes instead of dozens; large chunks stay views (no copy).
 */
export function coalesce(chunks: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let run: Buffer[] = [];
  let runSize = 0;
  const flush = () => {
    if (run.length === 1) out.push(run[0] as Buffer);
    else if (run.length > 1) out.push(Buffer.concat(run, runSize));
    run = [];
    runSize = 0;
  };
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    if (chunk.length >= SMALL_CHUNK) {
      flush();
      out.push(chunk);
      continue;
    }
    run.push(chunk);
    runSize += chunk.length;
    if (runSize >= SMALL_CHUNK) flush();
  }
  flush();
  return out;
}
