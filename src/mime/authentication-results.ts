/**
 * The Authentication-Results header field (RFC 8601) carrying S/MIME
 * verdicts with the `smime` method and its body.smime-* properties
 * (RFC 7281), the removal of forged fields that claim our authserv-id
 * (RFC 8601 section 5), and byte-exact prepending of a header field.
 *
 * Output is always 7-bit, folded at white space to lines of at most 78
 * octets where the tokens allow (a single long quoted value is never split,
 * lines stay below 998 octets by capping values), and ends with CRLF.
 */
import { CR, LF } from './bytes.js';
import { splitFields } from './headers.js';

export type SmimeResult = 'pass' | 'fail' | 'policy' | 'neutral' | 'none' | 'temperror' | 'permerror';

/** RFC 7281 section 3 property types of the smime method. */
export interface SmimeProperties {
  /** The signer's e-mail address (addr-spec) the signature was checked against. */
  readonly 'body.smime-identifier'?: string;
  /** MIME part number of the signed body part (e.g. "1" or "2.1"). */
  readonly 'body.smime-part'?: string;
  /** Serial number of the signer's certificate (hex). */
  readonly 'body.smime-serial'?: string;
  /** Issuer of the signer's certificate (RFC 4514 string). */
  readonly 'body.smime-issuer'?: string;
}

export interface SmimeResultInfo {
  readonly result: SmimeResult;
  /** Machine-oriented reason, written as reason="..." (RFC 8601 section 2.2). */
  readonly reason?: string;
  readonly properties?: SmimeProperties;
  /** Human text, written as an RFC 5322 comment after the result. */
  readonly comment?: string;
}

/** RFC 2045 token: printable US-ASCII except SP and tspecials. */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
/** dot-atom-text of RFC 5322 (local-part without quoting). */
const DOT_ATOM = /^[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z]+(\.[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z]+)*$/;
const DOMAIN = /^[0-9A-Za-z]([0-9A-Za-z-]*[0-9A-Za-z])?(\.[0-9A-Za-z]([0-9A-Za-z-]*[0-9A-Za-z])?)*$/;
/**
 * Caps keep every line below RFC 5322's 998 octets even when a value cannot
 * be folded: escaping at most doubles a value, plus quotes and the longest
 * property name. Real reasons and issuer names are far shorter.
 */
const MAX_VALUE = 480;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const LINE = 78;

/** 7-bit printable text: accents dropped (NFKD), anything else non-printable becomes "?". */
function sevenBit(text: string): string {
  if (PRINTABLE_ASCII.test(text)) return text.length > MAX_VALUE ? text.slice(0, MAX_VALUE) : text; // the usual case: nothing to drop
  const ascii = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > MAX_VALUE ? ascii.slice(0, MAX_VALUE) : ascii;
}

function quoted(text: string): string {
  return '"' + sevenBit(text).replace(/(["\\])/g, '\\$1') + '"';
}

/** RFC 8601 value (token / quoted-string) or the [local-part] "@" domain-name form of pvalue. */
function pvalue(text: string): string {
  const clean = sevenBit(text);
  if (TOKEN.test(clean)) return clean;
  const at = clean.lastIndexOf('@');
  if (at >= 0) {
    const local = clean.slice(0, at);
    const domain = clean.slice(at + 1);
    if ((local === '' || DOT_ATOM.test(local)) && DOMAIN.test(domain)) return clean;
  }
  return quoted(clean);
}

function comment(text: string): string {
  return '(' + sevenBit(text).replace(/([()\\])/g, '\\$1') + ')';
}

/** Joins words with single spaces, folding (CRLF SP) before a word that would overflow the line. */
function fold(words: readonly string[]): string {
  let out = '';
  let lineLength = 0;
  for (const word of words) {
    if (out === '') {
      out = word;
      lineLength = word.length;
    } else if (lineLength + 1 + word.length > LINE) {
      out += '\r\n ' + word; // RFC 5322 folding: CRLF before the existing space
      lineLength = 1 + word.length;
    } else {
      out += ' ' + word;
      lineLength += 1 + word.length;
    }
  }
  return out;
}

/**
 * One Authentication-Results field, CRLF-terminated, e.g.
 * `Authentication-Results: mx.example.org; smime=pass body.smime-identifier=a@example.org`.
 * With no results it writes the RFC 8601 no-result form `authserv-id; none`.
 * Throws RangeError for an authservId that is not a 7-bit token/domain (a configuration error).
 */
export function formatAuthenticationResults(authservId: string, results: readonly SmimeResultInfo[]): Buffer {
  if (!TOKEN.test(authservId) || authservId.length > 255) throw new RangeError(`authserv-id must be a token such as a host name: ${JSON.stringify(authservId)}`);
  const words: string[] = ['Authentication-Results:'];
  words.push(authservId + ';');
  if (results.length === 0) words.push('none');
  results.forEach((info, index) => {
    const resinfo: string[] = [`smime=${info.result}`];
    // A comment may be folded between its words (FWS is allowed inside comments, RFC 5322 3.2.2).
    if (info.comment !== undefined) resinfo.push(...comment(info.comment).split(' ').filter((word) => word !== ''));
    if (info.reason !== undefined) resinfo.push(`reason=${quoted(info.reason)}`);
    const props = info.properties ?? {};
    for (const key of ['body.smime-identifier', 'body.smime-part', 'body.smime-serial', 'body.smime-issuer'] as const) {
      const value = props[key];
      if (value !== undefined) resinfo.push(`${key}=${pvalue(value)}`);
    }
    if (index < results.length - 1) resinfo[resinfo.length - 1] += ';';
    words.push(...resinfo);
  });
  return Buffer.from(fold(words) + '\r\n', 'latin1');
}

/** Skips CFWS (white space, line breaks, nested comments) from `pos`; returns the next position. */
function skipCfws(text: string, pos: number): number {
  let depth = 0;
  while (pos < text.length) {
    const c = text[pos] as string;
    if (depth > 0 && c === '\\') pos += 2;
    else if (c === '(') {
      depth++;
      pos++;
    } else if (c === ')' && depth > 0) {
      depth--;
      pos++;
    } else if (depth > 0 || c === ' ' || c === '\t' || c === '\r' || c === '\n') pos++;
    else break;
  }
  return pos;
}

/** The authserv-id of a field value (token or quoted-string after optional CFWS), undefined if unreadable. */
export function authservIdOf(value: string): string | undefined {
  const pos = skipCfws(value, 0);
  if (value[pos] === '"') {
    let out = '';
    for (let i = pos + 1; i < value.length; i++) {
      const c = value[i] as string;
      if (c === '\\') out += value[++i] ?? '';
      else if (c === '"') return out;
      else if (c !== '\r' && c !== '\n') out += c;
    }
    return undefined;
  }
  const m = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+/.exec(value.slice(pos, pos + 300));
  return m?.[0];
}

/**
 * Removes every Authentication-Results field whose authserv-id is ours
 * (case-insensitive; folded, commented and versioned forms included): such a
 * field from outside is forged or stale (RFC 8601 section 5). All other bytes,
 * including anything after the header fields, stay exactly as they were.
 */
export function removeForeignAuthenticationResults(headerBytes: Buffer, authservId: string): { header: Buffer; removed: number } {
  const ours = authservId.toLowerCase();
  const keep: Buffer[] = [];
  let cursor = 0;
  let removed = 0;
  for (const field of splitFields(headerBytes)) {
    if (field.name.toLowerCase() !== 'authentication-results') continue;
    const colon = field.raw.indexOf(0x3a);
    const id = authservIdOf(field.raw.subarray(colon + 1).toString('latin1'));
    if (id === undefined || id.toLowerCase() !== ours) continue;
    const start = field.raw.byteOffset - headerBytes.byteOffset;
    keep.push(headerBytes.subarray(cursor, start));
    cursor = start + field.raw.length;
    removed++;
  }
  if (removed === 0) return { header: headerBytes, removed };
  keep.push(headerBytes.subarray(cursor));
  return { header: Buffer.concat(keep), removed };
}

/**
 * Puts a complete header field (CRLF-terminated, as formatted above) in front
 * of a message or header block without touching its bytes. If the message's
 * first line ends in a bare LF (an LF-only message), the field's line breaks
 * are written as LF too, so the header block keeps one line-ending style.
 */
export function prependHeaderField(message: Buffer, field: Buffer): Buffer {
  const firstLf = message.indexOf(LF);
  const lfOnly = firstLf !== -1 && (firstLf === 0 || message[firstLf - 1] !== CR);
  const bytes = lfOnly ? Buffer.from(field.toString('latin1').replace(/\r\n/g, '\n'), 'latin1') : field;
  return Buffer.concat([bytes, message]);
}
