/**
 * The MIME wrapping of an enveloped message (RFC 8551 3.3): an
 * application/pkcs7-mime body with the smime-type RFC 8551 / RFC 5083
 * define, base64, as chunks the caller concatenates or streams.
 */
import { SiegelError } from '../errors.js';
import { base64Lines } from './base64.js';

const CRLF = '\r\n';

/**
 * `outerHeaders`: the message's non-content header fields, each ending
 * CRLF (no Content-Type / Content-Transfer-Encoding: this layer sets them).
 */
export function buildEnvelopedMime(outerHeaders: Buffer, der: Buffer | readonly Buffer[], authenticated: boolean): Buffer[] {
  const names = fieldNames(outerHeaders);
  if (outerHeaders.length > 0 && !outerHeaders.toString('latin1').endsWith('\n')) throw misuse('outer headers must end with a line break');
  if (names.includes('')) throw misuse('outer headers contain an empty line or a line that is not a header field');
  for (const name of ['content-type', 'content-transfer-encoding', 'content-disposition']) {
    if (names.includes(name)) throw misuse(`outer headers must not contain ${name}; the enveloped layer sets it`);
  }
  const smimeType = authenticated ? 'authEnveloped-data' : 'enveloped-data';
  const head =
    (names.includes('mime-version') ? '' : `MIME-Version: 1.0${CRLF}`) +
    `Content-Type: application/pkcs7-mime; smime-type=${smimeType};${CRLF} name="smime.p7m"${CRLF}` +
    `Content-Transfer-Encoding: base64${CRLF}` +
    `Content-Disposition: attachment; filename="smime.p7m"${CRLF}` +
    CRLF;
  return [outerHeaders, Buffer.from(head, 'ascii'), ...base64Lines(der)];
}

function fieldNames(headers: Buffer): string[] {
  const lines = headers.toString('latin1').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  // Continuation lines start with whitespace (RFC 5322 2.2.3); an empty line would end the header early.
  return lines.filter((line) => !/^[ \t]/.test(line)).map((line) => (line.includes(':') ? line.slice(0, line.indexOf(':')).trim().toLowerCase() : ''));
}

function misuse(detail: string): SiegelError {
  return new SiegelError('INTERNAL', detail);
}
