/**
 * RFC 2047 encoded words for header text that carries raw 8-bit bytes. The
 * bytes are kept exactly (B encoding); only the charset label is chosen.
 * Strings here are "binary" strings: one char per byte (latin1).
 */

/** RFC 2047 section 2: an encoded word is at most 75 characters. */
const MAX_WORD = 75;

/** Splits bytes into B-encoded words, never splitting a UTF-8 sequence. */
export function encodeWords(bytes: Buffer, charset: string): string[] {
  const overhead = charset.length + 7; // "=?" charset "?B?" ... "?="
  const maxBytes = Math.floor((MAX_WORD - overhead) / 4) * 3;
  const utf8 = charset.toLowerCase() === 'utf-8';
  const words: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + maxBytes);
    if (utf8 && end < bytes.length) {
      let back = end;
      while (back > start && ((bytes[back] as number) & 0xc0) === 0x80) back--;
      if (back > start) end = back;
    }
    words.push(`=?${charset}?B?${bytes.subarray(start, end).toString('base64')}?=`);
    start = end;
  }
  return words;
}

/** Needs encoding: 8-bit bytes, NUL or other controls except HTAB. */
export function hasEightBit(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x7f || (c < 0x20 && c !== 0x09)) return true;
  }
  return false;
}

interface Token {
  readonly text: string;
  readonly kind: 'ws' | 'special' | 'word' | 'quoted';
  /** For quoted strings: the content without quotes and quoted-pairs. */
  readonly content: string;
}

const SPECIALS = '()<>@,;:.[]';

function tokenize(value: string, structured: boolean): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i] as string;
    if (c === ' ' || c === '\t') {
      let j = i;
      while (j < value.length && (value[j] === ' ' || value[j] === '\t')) j++;
      tokens.push({ text: value.slice(i, j), kind: 'ws', content: '' });
      i = j;
    } else if (structured && c === '"') {
      let j = i + 1;
      let content = '';
      while (j < value.length && value[j] !== '"') {
        if (value[j] === '\\' && j + 1 < value.length) j++;
        content += value[j];
        j++;
      }
      j = Math.min(j + 1, value.length);
      tokens.push({ text: value.slice(i, j), kind: 'quoted', content });
      i = j;
    } else if (structured && SPECIALS.includes(c)) {
      tokens.push({ text: c, kind: 'special', content: '' });
      i++;
    } else {
      let j = i;
      while (j < value.length) {
        const d = value[j] as string;
        if (d === ' ' || d === '\t' || (structured && (d === '"' || SPECIALS.includes(d)))) break;
        j++;
      }
      tokens.push({ text: value.slice(i, j), kind: 'word', content: value.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

function isEncodable(t: Token | undefined): boolean {
  return t !== undefined && (t.kind === 'word' || t.kind === 'quoted') && hasEightBit(t.text);
}

/**
 * Replaces the words of a header value that contain 8-bit bytes by encoded
 * words; 7-bit text stays as it is. `structured` (address fields) treats
 * specials as separators and replaces a quoted string with 8-bit content by
 * encoded words of its content, because encoded words are not allowed inside
 * quoted strings (RFC 2047 section 5). Neighbouring 8-bit words separated
 * only by whitespace become one run, so the whitespace survives decoding.
 */
export function encodeHeaderText(value: string, charset: string, structured: boolean): string {
  const tokens = tokenize(value, structured);
  let out = '';
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (!isEncodable(t)) {
      out += t.text;
      continue;
    }
    let run = t.content;
    while (tokens[i + 1]?.kind === 'ws' && isEncodable(tokens[i + 2])) {
      run += (tokens[i + 1] as Token).text + (tokens[i + 2] as Token).content;
      i += 2;
    }
    out += encodeWords(Buffer.from(run, 'latin1'), charset).join(' ');
  }
  return out;
}
