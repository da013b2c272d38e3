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

export function base64Lines(data: Uint8Array): Buffer[] {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += BLOCK_BYTES) {
    const encoded = bytes.subarray(offset, offset + BLOCK_BYTES).toString('base64');
    const lines: string[] = [];
    for (let at = 0; at < encoded.length; at += LINE_CHARS) lines.push(encoded.slice(at, at + LINE_CHARS));
    chunks.push(Buffer.from(`${lines.join('\r\n')}\r\n`, 'ascii'));
  }
  return chunks;
}
