/**
 * Content-Disposition for downloads (RFC 6266 with the RFC 8187 / 5987
 * `filename*` parameter): `attachment`, an ASCII fallback `filename` for
 * old clients and the exact UTF-8 name in `filename*`. Path tricks are
 * neutralised here even though the service already sanitises names:
 * directory parts, control characters, leading dots and reserved
 * characters never reach the browser's save dialog.
 */
const fallbackName = 'download';

/** The last path component, without control characters, leading dots or Windows-reserved characters. */
export function safeFileName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  const cleaned = base
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replace(/[<>:"|?*]/g, '_')
    .replace(/^[\s.]+/, '')
    .replace(/[\s.]+$/, '')
    .trim();
  return cleaned.length > 0 ? cleaned.slice(0, 255) : fallbackName;
}

/** Printable ASCII with diacritics stripped; other characters become "_". */
function asciiFallback(name: string): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/ß/g, 'ss')
    .replace(/[^\x20-\x7e]/g, '_')
    .replace(/["\\%]/g, '_');
  return ascii.replace(/^[\s.]+/, '') || fallbackName;
}

/** RFC 8187 value-chars: attr-char stays, everything else is percent-encoded UTF-8. */
function encodeExtValue(name: string): string {
  return encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function contentDisposition(fileName: string): string {
  const name = safeFileName(fileName);
  return `attachment; filename="${asciiFallback(name)}"; filename*=UTF-8''${encodeExtValue(name)}`;
}

/** A media type safe to send as Content-Type; anything odd becomes application/octet-stream. */
export function safeContentType(contentType: string): string {
  const value = contentType.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(value) ? value : 'application/octet-stream';
}
