/**
 * The Range header of a download (RFC 9110 section 14). One range is
 * served as 206. Several ranges are answered with the whole file (200):
 * the RFC lets a server ignore Range, resuming clients never ask for
 * several, and multipart/byteranges would only add surface. A syntactically
 * invalid header is ignored the same way; a valid one that selects no byte
 * of the file is 416.
 */
import type { ByteRange } from '../transfer/types.js';

export type RangeChoice =
  | { readonly kind: 'whole' }
  | { readonly kind: 'partial'; readonly range: ByteRange }
  | { readonly kind: 'unsatisfiable' };

const single = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

export function chooseRange(header: string | undefined, size: number): RangeChoice {
  if (header === undefined) return { kind: 'whole' };
  if (header.length > 200 || header.includes(',')) return { kind: 'whole' };
  const match = single.exec(header);
  if (!match) return { kind: 'whole' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (!Number.isSafeInteger(length)) return { kind: 'whole' };
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, size - length), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'whole' };
  if (last !== '' && end < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end: Math.min(end, size - 1) } };
}

/**
 * If-Range (RFC 9110 section 13.1.5): the range applies only when the
 * validator still matches; our ETag is the file's SHA-256, so a resumed
 * download never mixes two files. Dates are not strong enough: whole file.
 */
export function ifRangeMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  return header.trim() === etag;
}
