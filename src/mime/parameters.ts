/**
 * RFC 2231 encoding of Content-Type / Content-Disposition parameters that
 * carry raw 8-bit bytes (typically a UTF-8 filename). The parameter keeps its
 * bytes, percent-encoded, with the charset declared; long values are split
 * into continuations so that header lines stay short. Parameters without
 * 8-bit bytes are left exactly as written. Strings are latin1 "binary" strings.
 */
import { splitParams, unquote } from './parameter-syntax.js';
import { encodeHeaderText, hasEightBit } from './encoded-words.js';

/** RFC 2231 attribute-char: token characters except "*", "'" and "%". */
const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

function percentEncode(value: string, keep: RegExp): string {
  let out = '';
  for (const c of value) {
    out += keep.test(c) ? c : '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Target length of a folded parameter line (RFC 5322 recommends 78 with CRLF). */
const LINE = 76;

/**
 * Percent-encoded units, one per character, so that a continuation never
 * splits a UTF-8 sequence (some readers decode each segment on its own).
 */
function encodedUnits(value: string, charset: string): string[] {
  const bytes = Buffer.from(value, 'latin1');
  const utf8 = charset.toLowerCase() === 'utf-8';
  const units: string[] = [];
  for (let i = 0; i < bytes.length; i++) {
    let unit = percentEncode(String.fromCharCode(bytes[i] as number), ATTR_CHAR);
    while (utf8 && i + 1 < bytes.length && ((bytes[i + 1] as number) & 0xc0) === 0x80) {
      i++;
      unit += percentEncode(String.fromCharCode(bytes[i] as number), ATTR_CHAR);
    }
    units.push(unit);
  }
  return units;
}

function encodeParam(name: string, rawValue: string, charset: string): string {
  const value = unquote(rawValue);
  if (name.endsWith('*')) {
    // Already in extended form (charset'lang'%XX): only the raw bytes need escaping.
    return `${name}=${percentEncode(value, /[\x21-\x7e]/)}`;
  }
  const units = encodedUnits(value, charset);
  if (/\*\d+$/.test(name)) {
    // One segment of a continuation: make it an extended segment in place.
    return `${name}*=${name.endsWith('*0') ? `${charset}''` : ''}${units.join('')}`;
  }
  const single = `${name}*=${charset}''${units.join('')}`;
  if (single.length + 2 <= LINE) return single;
  // RFC 2231 section 3: continuations name*0*, name*1*, ... each on its own line.
  const pieces: string[] = [];
  let cur = '';
  for (const unit of units) {
    const prefix = `${name}*${pieces.length}*=${pieces.length === 0 ? `${charset}''` : ''}`;
    // leading space of the folded line and the trailing ";" count too
    if (cur !== '' && 1 + prefix.length + cur.length + unit.length + 1 > LINE) {
      pieces.push(prefix + cur);
      cur = '';
    }
    cur += unit;
  }
  pieces.push(`${name}*${pieces.length}*=${pieces.length === 0 ? `${charset}''` : ''}${cur}`);
  return pieces.join('; ');
}

/** Returns the value (everything after the colon) with 8-bit parameters RFC 2231-encoded. */
export function encodeParameters(value: string, charset: string): string {
  const parts = splitParams(value);
  return parts
    .map((part, index) => {
      if (!hasEightBit(part)) return index === 0 ? part : part.trim();
      if (index === 0) return encodeHeaderText(part, charset, true);
      const m = /^\s*([^=\s]+)\s*=([\s\S]*)$/.exec(part);
      if (!m) return encodeHeaderText(part.trim(), charset, true);
      return encodeParam(m[1] as string, m[2] as string, charset);
    })
    .join('; ');
}
