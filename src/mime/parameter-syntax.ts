/**
 * The quoted-string syntax of MIME header parameters (RFC 2045 5.1,
 * RFC 5322 3.2.4), shared by the parameter encoder and the S/MIME detector.
 */

/** Splits a header value on ";" outside quoted strings (quoted-pairs honoured). */
export function splitParams(value: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted && c === '\\' && i + 1 < value.length) {
      cur += c + (value[i + 1] as string);
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
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
