/**
 * A small, total parser for Content-Type / Content-Transfer-Encoding values
 * as S/MIME detection needs them: type/subtype and parameters in any order,
 * quoted strings with escapes, comments, and RFC 2231 continuations (a long
 * boundary may arrive as boundary*0/boundary*1). It never throws; anything it
 * cannot read simply yields no parameter, and callers decide what that means.
 */

import { splitParams, unquote } from '../mime/parameter-syntax.js';

export interface ContentType {
  /** Lower-cased "type/subtype"; "text/plain" when the field is absent (RFC 2045 section 5.2). */
  readonly mediaType: string;
  /** Parameter names lower-cased; values unquoted, case kept. First occurrence wins. */
  readonly params: ReadonlyMap<string, string>;
}

/** Removes RFC 5322 comments outside quoted strings (nesting and quoted-pairs honoured). */
function stripComments(value: string): string {
  if (!value.includes('(')) return value; // nothing to remove (the usual case): no copy
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += c + (value[i + 1] ?? '');
      i++;
      continue;
    }
    if (depth === 0 && c === '"') quoted = !quoted;
    if (!quoted && c === '(') {
      depth++;
      continue;
    }
    if (!quoted && c === ')' && depth > 0) {
      depth--;
      continue;
    }
    if (depth === 0) out += c;
  }
  return out;
}

/** RFC 2231 extended value: charset'lang'%XX... -> latin1 string of the bytes. */
function decodeExtended(value: string, first: boolean): string {
  const body = first ? value.replace(/^[^']*'[^']*'/, '') : value;
  return body.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function parseContentType(value: string | undefined): ContentType {
  if (value === undefined) return { mediaType: 'text/plain', params: new Map() };
  const parts = splitParams(stripComments(value));
  const mediaType = (parts[0] ?? '').trim().toLowerCase().replace(/\s+/g, '');
  const params = new Map<string, string>();
  const continued = new Map<string, Map<number, string>>();
  for (const part of parts.slice(1)) {
    const m = /^\s*([^=\s]+)\s*=([\s\S]*)$/.exec(part);
    if (!m) continue;
    const name = (m[1] as string).toLowerCase();
    const rawValue = m[2] as string;
    const section = /^(.+?)\*(\d{1,3})(\*?)$/.exec(name);
    if (section) {
      const base = section[1] as string;
      const index = Number(section[2]);
      const segment = section[3] === '*' ? decodeExtended(unquote(rawValue), index === 0) : unquote(rawValue);
      const segments = continued.get(base) ?? new Map<number, string>();
      if (!segments.has(index)) segments.set(index, segment);
      continued.set(base, segments);
      continue;
    }
    const key = name.endsWith('*') ? name.slice(0, -1) : name;
    const decoded = name.endsWith('*') ? decodeExtended(unquote(rawValue), true) : unquote(rawValue);
    if (!params.has(key)) params.set(key, decoded);
  }
  for (const [base, segments] of continued) {
    if (params.has(base)) continue;
    let joined = '';
    for (let i = 0; segments.has(i); i++) joined += segments.get(i) as string;
    if (joined !== '') params.set(base, joined);
  }
  return { mediaType, params };
}

/** Lower-cased Content-Transfer-Encoding token without comments; '7bit' when absent. */
export function parseTransferEncoding(value: string | undefined): string {
  if (value === undefined) return '7bit';
  return stripComments(value).trim().toLowerCase();
}
