/**
 * Base64 body lines for MIME (RFC 2045 6.8): 76 characters per line, CRLF
 * after every line. Encoded block by block so a large SignedData never
 * becomes one giant string.
 */
const LINE_CHARS = 76;
/** Input bytes per line (76 / 4 * 3). */
const LINE_BYTES = (LINE_CHARS / 4) * 3;
/** Input bytes per output chunk: whole lines, so chunks join without re-wrapping. */
const BLOCK_BYTES = LINE_BYTES * 1024;

/** `data` as one buffer or as chunks in order (e.g. a DER structure around ciphertext pieces, never joined). */
export function base64Lines(data: Uint8Array | readonly Uint8Array[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (const block of blocks(data)) {
    const encoded = block.toString('base64');
    const lines: string[] = [];
    for (let at = 0; at < encoded.length; at += LINE_CHARS) lines.push(encoded.slice(at, at + LINE_CHARS));
    chunks.push(Buffer.from(`${lines.join('\r\n')}\r\n`, 'ascii'));
  }
  return chunks;
}

/** BLOCK_BYTES-sized pieces of the input (the last shorter): views where a block lies in one chunk, a small copy where it spans several. */
function* blocks(data: Uint8Array | readonly Uint8Array[]): Generator<Buffer, void, undefined> {
  const chunks = data instanceof Uint8Array ? [data] : data;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for (const chunk of chunks) {
    let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (bytes.length > 0) {
      if (pendingBytes === 0 && bytes.length >= BLOCK_BYTES) {
        yield bytes.subarray(0, BLOCK_BYTES);
        bytes = bytes.subarray(BLOCK_BYTES);
        continue;
      }
      const take = Math.min(BLOCK_BYTES - pendingBytes, bytes.length);
      pending.push(bytes.subarray(0, take));
      pendingBytes += take;
      bytes = bytes.subarray(take);
      if (pendingBytes === BLOCK_BYTES) {
        yield Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}
