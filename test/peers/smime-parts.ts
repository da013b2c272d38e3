/**
 * Takes a multipart/signed message apart the way a receiving client does:
 * the signed entity is the exact bytes between the first boundary line and
 * the CRLF before the second; the signature is the base64 of the second part.
 */
export interface SignedParts {
  readonly outerHeaders: string;
  readonly entity: Buffer;
  readonly signature: Buffer;
  readonly contentType: string;
}

export function splitMultipartSigned(message: Buffer): SignedParts {
  const text = message.toString('latin1');
  const headerEnd = text.indexOf('\r\n\r\n');
  if (headerEnd < 0) throw new Error('no header/body separator');
  const outerHeaders = text.slice(0, headerEnd + 2);
  const unfolded = outerHeaders.replace(/\r\n[ \t]+/g, ' ');
  const contentType = /^content-type:\s*([^\r\n]*)/im.exec(unfolded)?.[1] ?? '';
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw new Error(`not multipart: ${contentType}`);
  const delimiter = `\r\n--${boundary}`;
  const first = text.indexOf(`--${boundary}\r\n`, headerEnd);
  const start = first + boundary.length + 4;
  const second = text.indexOf(delimiter, start);
  const entity = message.subarray(start, second);
  const sigPartStart = second + delimiter.length + 2;
  const closing = text.indexOf(delimiter, sigPartStart);
  const sigPart = text.slice(sigPartStart, closing);
  const sigBody = sigPart.slice(sigPart.indexOf('\r\n\r\n') + 4);
  return { outerHeaders, entity, signature: Buffer.from(sigBody.replace(/\s+/g, ''), 'base64'), contentType };
}
