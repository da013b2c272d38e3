/**
 * Mail a client already signed or encrypted itself is never re-wrapped or
 * altered (DESIGN rule 9). Recognises the top-level S/MIME content types,
 * including the legacy x-pkcs7 names older clients still send.
 */
import { getHeader, splitHeaderBody } from '../../mime/headers.js';

export type ClientSmime = 'signed' | 'enveloped' | 'opaque' | undefined;

export function detectClientSmime(raw: Buffer): ClientSmime {
  const { header } = splitHeaderBody(raw);
  const contentType = (getHeader(header, 'content-type') ?? '').toLowerCase();
  const mediaType = contentType.split(';')[0]?.trim() ?? '';
  if (mediaType === 'multipart/signed') return 'signed';
  if (mediaType === 'application/pkcs7-mime' || mediaType === 'application/x-pkcs7-mime') {
    return /smime-type\s*=\s*"?(enveloped-data|authenveloped-data)/.test(contentType) ? 'enveloped' : 'opaque';
  }
  return undefined;
}
