/**
 * Makes one header field of the signed entity 7-bit: raw 8-bit bytes become
 * RFC 2231 parameters (Content-Type, Content-Disposition) or RFC 2047 encoded
 * words (everything else); lines longer than 998 octets are folded; line
 * endings become CRLF. Fields that need none of this are never rebuilt.
 */
import { isUtf8 } from 'node:buffer';
import { FALLBACK_8BIT_CHARSET, MAX_LINE_OCTETS, scanChunks } from './bytes.js';
import { encodeHeaderText, hasEightBit } from './encoded-words.js';
import { unfold } from './headers.js';
import { encodeParameters } from './parameters.js';

/** Fields whose value is an address list: encode phrases, not addresses. */
const ADDRESS_FIELDS = new Set([
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'resent-bcc',
  'mail-followup-to',
  'mail-reply-to',
  'disposition-notification-to',
]);

const PARAMETER_FIELDS = new Set(['content-type', 'content-disposition']);

/** True if the field must be rebuilt to be part of a canonical 7-bit entity. */
export function fieldNeedsRebuild(raw: Buffer): boolean {
  const scan = scanChunks([raw]);
  return scan.eightBit || scan.nul || scan.bareCr || scan.longLine;
}

/** Folds an unfolded "Name: value" line at whitespace; returns it with CRLF line endings and a final CRLF. */
export function foldField(line: string, soft = 76): string {
  const out: string[] = [];
  let rest = line;
  // never fold inside the field name or right after the colon
  let minCut = Math.max(rest.indexOf(':') + 2, 1);
  while (rest.length > soft) {
    let cut = -1;
    for (let i = Math.min(soft, rest.length - 1); i > minCut; i--) {
      if (rest[i] === ' ' || rest[i] === '\t') {
        cut = i;
        break;
      }
    }
    if (cut === -1) {
      const limit = Math.min(MAX_LINE_OCTETS, rest.length - 1);
      for (let i = Math.max(soft, minCut + 1); i <= limit; i++) {
        if (rest[i] === ' ' || rest[i] === '\t') {
          cut = i;
          break;
        }
      }
    }
    if (cut === -1) {
      if (rest.length <= MAX_LINE_OCTETS) break;
      // No whitespace in 998 octets: the only way to obey the line limit is
      // to insert a folding space, which changes the value slightly.
      out.push(rest.slice(0, MAX_LINE_OCTETS - 1));
      rest = ' ' + rest.slice(MAX_LINE_OCTETS - 1);
    } else {
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    // a continuation line starts with whitespace; never cut before its first word
    minCut = rest.search(/[^ \t]/);
    if (minCut < 1) minCut = 1;
  }
  out.push(rest);
  return out.join('\r\n') + '\r\n';
}

/** Last resort for bytes that are not a field at all: keep them visible, make them 7-bit. */
function sanitize(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += c === 0 || c >= 0x80 ? '?' : text[i];
  }
  return out;
}

/** Rebuilds one field as 7-bit, folded, CRLF-terminated bytes. */
export function sevenBitField(raw: Buffer): Buffer {
  // A bare CR inside a field is no line break (RFC 5322); a space keeps the words apart.
  const unfolded = unfold(raw.toString('latin1')).replace(/\r/g, ' ');
  const m = /^([\x21-\x39\x3b-\x7e]+)([ \t]*):/.exec(unfolded);
  if (!m) return Buffer.from(foldField(sanitize(unfolded)), 'latin1');
  const name = m[1] as string;
  const value = unfolded.slice(m[0].length);
  let rebuilt = unfolded;
  if (hasEightBit(value)) {
    const bytes = Buffer.from(value, 'latin1');
    const charset = isUtf8(bytes) ? 'utf-8' : FALLBACK_8BIT_CHARSET;
    const lower = name.toLowerCase();
    const encoded = PARAMETER_FIELDS.has(lower)
      ? encodeParameters(value, charset)
      : encodeHeaderText(value, charset, ADDRESS_FIELDS.has(lower));
    rebuilt = `${name}${m[2] ?? ''}:${encoded}`;
  }
  return Buffer.from(foldField(sanitize(rebuilt)), 'latin1');
}
