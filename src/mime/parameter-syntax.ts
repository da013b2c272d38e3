/**
 * The quoted-string syntax of MIME header parameters (RFC 2045 5.1,
 * RFC 5322 3.2.4), shared by the parameter encoder and the S/MIME detector.
 */

/** Splits a header value on ";" outside quoted strings (quoted-pairs honoured). */
export function splitParams(value: string): string[] {
  // Slices of the value: every character, quoted-pairs included, stays in its part.
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted && c === 0x5c && i + 1 < value.length) {
      i++;
      continue;
    }
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x3b && !quoted) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** The value of a (possibly quoted) parameter, quoted-pairs resolved; an unterminated quote runs to the end. */
export function unquote(raw: string): string {
  const v = raw.trim();
  if (!v.startsWith('"')) return v;
  const end = v.lastIndexOf('"');
  const inner = end > 0 ? v.slice(1, end) : v.slice(1);
  return inner.replace(/\\([\s\S])/g, '$1');
}
