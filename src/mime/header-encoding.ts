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

/**
 * Folds an unfolded "Name: value" line at whitespace; returns it with CRLF
 * line endings and a final CRLF. Works with an index into `line` (the rest
 * of the line is never copied), so a megabyte-long field folds in linear
 * time: a quadratic version let one hostile header stall the event loop.
 */
export function foldField(line: string, soft = 76): string {
  const out: string[] = [];
  // The unfolded rest is `lead` (a folding space we had to insert, or '') + line.slice(pos).
  let pos = 0;
  let lead = '';
  const length = () => lead.length + line.length - pos;
  const at = (i: number) => (i < lead.length ? lead[i] : line[pos + i - lead.length]);
  const slice = (from: number, to: number) => (lead + line.slice(pos, pos + to - lead.length)).slice(from, to);
  const isWs = (c: string | undefined) => c === ' ' || c === '\t';
  // never fold inside the field name or right after the colon
  let minCut = Math.max(line.indexOf(':') + 2, 1);
  while (length() > soft) {
    let cut = -1;
    for (let i = Math.min(soft, length() - 1); i > minCut; i--) {
      if (isWs(at(i))) {
        cut = i;
        break;
      }
    }
    if (cut === -1) {
      const limit = Math.min(MAX_LINE_OCTETS, length() - 1);
      for (let i = Math.max(soft, minCut + 1); i <= limit; i++) {
        if (isWs(at(i))) {
          cut = i;
          break;
        }
      }
    }
    if (cut === -1) {
      if (length() <= MAX_LINE_OCTETS) break;
      // No whitespace in 998 octets: the only way to obey the line limit is
      // to insert a folding space, which changes the value slightly.
      out.push(slice(0, MAX_LINE_OCTETS - 1));
      advance(MAX_LINE_OCTETS - 1);
      lead = ' ';
    } else {
      out.push(slice(0, cut));
      advance(cut);
    }
    // A continuation line starts with whitespace; never cut before its first
    // word. Only the first MAX_LINE_OCTETS + 1 characters can matter.
    minCut = 1;
    const scanTo = Math.min(length(), MAX_LINE_OCTETS + 2);
    while (minCut < scanTo && isWs(at(minCut))) minCut++;
    if (!isWs(at(0))) minCut = 1;
  }
  out.push(lead + line.slice(pos));
  return out.join('\r\n') + '\r\n';

  function advance(count: number): void {
    const fromLead = Math.min(count, lead.length);
    lead = lead.slice(fromLead);
    pos += count - fromLead;
  }
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
