/**
 * Assembly of signed S/MIME messages (RFC 8551 3.5) as chunk lists: the
 * caller concatenates or streams them once, so a large entity is never
 * copied here. The entity goes between the boundary delimiters byte for
 * byte, because those are the bytes the signature covers; the CRLF in
 * front of each `--boundary` belongs to the delimiter (RFC 2046 5.1.1).
 */
import { randomBytes } from 'node:crypto';
import { SiegelError } from '../errors.js';
import { base64Lines } from './base64.js';

const CRLF = '\r\n';

export interface MultipartSignedOptions {
  /** Fixed boundary (tests); random otherwise. Must not occur in the entity. */
  readonly boundary?: string;
  /** The micalg parameter (RFC 8551 3.4.3.2), already quoted if it lists several; default sha-256. */
  readonly micalg?: string;
  /** The "This is an S/MIME signed message" preamble for readers without S/MIME (default true). */
  readonly preamble?: boolean;
}

/**
 * multipart/signed with an application/pkcs7-signature part.
 * `outerHeaders`: the message's non-content header fields, each ending CRLF.
 * `entity`: the canonical (CRLF, 7-bit) MIME entity that was signed, as one
 * Buffer or as chunks (kept as they are, never concatenated here).
 * `signatureDer`: the detached ContentInfo(SignedData) over `entity`.
 */
export function buildMultipartSigned(
  outerHeaders: Buffer,
  entityBytes: Buffer | readonly Buffer[],
  signatureDer: Buffer,
  options: MultipartSignedOptions = {},
): Buffer[] {
  checkOuterHeaders(outerHeaders);
  const entity = Buffer.isBuffer(entityBytes) ? [entityBytes] : entityBytes;
  const boundary = options.boundary ?? randomBoundary(entity);
  checkBoundary(boundary, entity);
  const head =
    mimeVersion(outerHeaders) +
    // Folded: the single line would exceed the 78-character recommendation (RFC 5322 2.1.1).
    `Content-Type: multipart/signed; protocol="application/pkcs7-signature";${CRLF} micalg=${options.micalg ?? 'sha-256'}; boundary="${boundary}"${CRLF}` +
    CRLF +
    // The preamble is for readers without S/MIME support; 7-bit only.
    (options.preamble === false ? '' : `This is an S/MIME signed message${CRLF}${CRLF}`) +
    `--${boundary}${CRLF}`;
  const signaturePartHead =
    `${CRLF}--${boundary}${CRLF}` +
    `Content-Type: application/pkcs7-signature; name="smime.p7s"${CRLF}` +
    `Content-Transfer-Encoding: base64${CRLF}` +
    `Content-Disposition: attachment; filename="smime.p7s"${CRLF}` +
    CRLF;
  return [
    outerHeaders,
    Buffer.from(head, 'ascii'),
    ...entity,
    Buffer.from(signaturePartHead, 'ascii'),
    ...base64Lines(signatureDer),
    // The last base64 line's CRLF is the close delimiter's leading CRLF.
    Buffer.from(`--${boundary}--${CRLF}`, 'ascii'),
  ];
}

/** application/pkcs7-mime; smime-type=signed-data: the entity travels inside the SignedData (eContent). */
export function buildOpaqueSigned(outerHeaders: Buffer, signedDataDer: Buffer): Buffer[] {
  checkOuterHeaders(outerHeaders);
  const head =
    mimeVersion(outerHeaders) +
    `Content-Type: application/pkcs7-mime; smime-type=signed-data;${CRLF} name="smime.p7m"${CRLF}` +
    `Content-Transfer-Encoding: base64${CRLF}` +
    `Content-Disposition: attachment; filename="smime.p7m"${CRLF}` +
    CRLF;
  return [outerHeaders, Buffer.from(head, 'ascii'), ...base64Lines(signedDataDer)];
}

/** Lower-case names of the fields in a header block ('' for a line that is not a field). */
export function fieldNames(headers: Buffer): string[] {
  // Field names start a line; continuation lines start with whitespace (RFC 5322 2.2.3).
  return headers
    .toString('latin1')
    .split(/\r?\n/)
    .filter((line) => line !== '' && !/^[ \t]/.test(line))
    .map((line) => line.slice(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase());
}

function mimeVersion(outerHeaders: Buffer): string {
  return fieldNames(outerHeaders).includes('mime-version') ? '' : `MIME-Version: 1.0${CRLF}`;
}

/**
 * The outer headers are pasted in verbatim, so reject only what would
 * break the message structure: a block that does not end a line, an
 * empty line (it would end the header early), or a second Content-Type.
 * Bare LF is left to the next MTA to canonicalise, as with any header.
 */
function checkOuterHeaders(outerHeaders: Buffer): void {
  if (outerHeaders.length === 0) return;
  const text = outerHeaders.toString('latin1');
  if (!text.endsWith('\n')) throw misuse('outer headers must end with a line break');
  if (/(^|\n)\r?\n/.test(text)) throw misuse('outer headers must not contain an empty line');
  const names = fieldNames(outerHeaders);
  if (names.some((name) => name === '')) throw misuse('outer headers contain a line that is not a header field');
  for (const name of ['content-type', 'content-transfer-encoding']) {
    if (names.includes(name)) throw misuse(`outer headers must not contain ${name}; the signed layer sets it`);
  }
}

/** bchars of RFC 2046 5.1.1 minus space (we quote, but spaces invite trouble), 1..70 long. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/;

function checkBoundary(boundary: string, entity: readonly Buffer[]): void {
  if (!BOUNDARY.test(boundary)) throw misuse('invalid MIME boundary');
  if (occursIn(boundary, entity)) throw misuse('MIME boundary occurs in the signed entity');
}

function randomBoundary(entity: readonly Buffer[]): string {
  for (;;) {
    // "=_" never occurs in quoted-printable or base64 text, so a collision needs a raw header line to contain it.
    const boundary = `----=_siegel_${randomBytes(18).toString('hex')}`;
    if (!occursIn(boundary, entity)) return boundary;
  }
}

/** Whether `text` occurs in the chunks, also across the seam between two chunks. */
function occursIn(text: string, chunks: readonly Buffer[]): boolean {
  const overlap = text.length - 1;
  let tail: Buffer = Buffer.alloc(0);
  for (const chunk of chunks) {
    if (chunk.includes(text, 0, 'latin1')) return true;
    if (overlap > 0 && tail.length > 0) {
      const seam = Buffer.concat([tail, chunk.subarray(0, overlap)]);
      if (seam.includes(text, 0, 'latin1')) return true;
    }
    // Only the last `overlap` bytes matter; never copy a whole chunk for them.
    tail = chunk.length >= overlap ? chunk.subarray(chunk.length - overlap) : Buffer.concat([tail, chunk]).subarray(-overlap);
  }
  return false;
}

function misuse(detail: string): SiegelError {
  return new SiegelError('SIGNING_FAILED', detail);
}
