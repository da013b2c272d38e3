/**
 * fast-check arbitraries for hostile MIME: random trees whose boundaries
 * are prefixes of each other, whose final boundary is missing, with
 * boundary lines inside header fields, preambles and epilogues, huge,
 * empty, duplicate and RFC 2231-continued parameters, 8-bit bytes and
 * every mix of CRLF, LF and bare CR line endings. Rendered as latin1 text
 * with "\n" between lines; `withLineEnds` then picks each line's ending.
 */
import fc from 'fast-check';

/** Boundaries chosen to collide: each of the first ones is a prefix of a later one. */
const BOUNDARIES = ['b', 'b-', 'b--', 'b-1', 'bb', '=_x', '=_x=_', 'x y', "'()+_,-./:=?", 'A'.repeat(70), 'A'.repeat(71)] as const;

const boundary = fc.constantFrom(...BOUNDARIES);

/** Short body text: ASCII, 8-bit latin1, lines that look like boundaries or headers. */
const bodyLine = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[ -~]{0,40}$/) },
  fc.constantFrom('Gr\u00fc\u00dfe aus M\u00fcnchen', '\u00ff\u00fe\u0000\u0080', '=C3=A4=', '=\u00e4', '.', '', ' ', 'From here', 'Content-Type: text/html', 'x'.repeat(1200)),
  boundary.map((b) => `--${b}`),
  boundary.map((b) => `--${b}--`),
  boundary.map((b) => `--${b} \t`),
);

const body = fc.array(bodyLine, { maxLength: 6 }).map((lines) => lines.join('\n'));

/** The value of a boundary parameter, written in one of the ways clients (and attackers) write it. */
const boundaryParameter = fc.tuple(boundary, fc.integer({ min: 0, max: 7 })).map(([b, how]) => {
  switch (how) {
    case 0:
      return { b, text: `boundary=${b.includes(' ') || b.includes(':') ? `"${b}"` : b}` };
    case 1:
      return { b, text: `boundary="${b}"; boundary="${b}-other"` };
    case 2:
      return { b, text: `boundary*0="${b.slice(0, 1)}"; boundary*1="${b.slice(1)}"` };
    case 3:
      return { b, text: `boundary*=us-ascii''${encodeURIComponent(b)}` };
    case 4:
      return { b, text: `boundary=""` };
    case 5:
      return { b, text: `BOUNDARY="${b}"; x=${'y'.repeat(3000)}` };
    case 6:
      return { b, text: `boundary="${b}";\n\tcharset=us-ascii; name*0*=utf-8''%C3%A4; name*1="${b}"` };
    default:
      return { b, text: `boundary="${b}"; ${'p=q; '.repeat(200)}` };
  }
});

/** Extra header fields: boundary lines inside a field, duplicates, long, 8-bit, folded, broken. */
const extraField = fc.oneof(
  fc.constantFrom('', 'X-Note: nothing\n', 'Subject: =?utf-8?B?w6TDtsO8?=\n', 'Subject: Gr\u00fc\u00dfe\n', 'X-Folded: a\n b\n\tc\n', `X-Long: ${'z'.repeat(5000)}\n`, 'Content-Transfer-Encoding: 8bit\n', 'MIME-Version: 1.0\n', 'No colon here\n', ' leading continuation\n', 'Content-Type: text/plain\n'),
  boundary.map((b) => `X-Boundary: --${b}\n`),
  boundary.map((b) => `X-Boundary-Line:\n --${b}\n`),
);

const leafType = fc.constantFrom('text/plain', 'text/plain; charset=utf-8', 'text/html; charset="iso-8859-1"', 'application/octet-stream; name="a.bin"', 'image/png', 'text/plain; name*=utf-8\'\'%C3%A4.txt', '', 'garbage');
const encoding = fc.constantFrom('', '7bit', '8bit', 'binary', 'base64', 'quoted-printable', 'x-uuencode', 'BASE64');

/** A MIME entity: header fields, empty line, body (no line ending after the body). */
export function mimeEntity(): fc.Arbitrary<string> {
  const { node } = fc.letrec<{ node: string }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(leafType, encoding, extraField, body).map(([type, cte, extra, text]) => `${type ? `Content-Type: ${type}\n` : ''}${cte ? `Content-Transfer-Encoding: ${cte}\n` : ''}${extra}\n${text}`),
      fc.tuple(encoding, tie('node')).map(([cte, inner]) => `Content-Type: message/rfc822\n${cte ? `Content-Transfer-Encoding: ${cte}\n` : ''}\nSubject: inner\n${inner}`),
      fc
        .tuple(
          fc.constantFrom('mixed', 'alternative', 'signed; protocol="application/pkcs7-signature"', 'digest', 'related'),
          boundaryParameter,
          extraField,
          fc.oneof(fc.constant(''), body),
          fc.array(tie('node'), { maxLength: 4 }),
          fc.constantFrom('close', 'open', 'close-padded', 'epilogue'),
          fc.constantFrom('', '\n'),
        )
        .map(([subtype, { b, text }, extra, preamble, children, ending, gap]) => {
          const parts = children.map((child) => `--${b}\n${child}\n`).join(gap);
          const end = ending === 'open' ? '' : ending === 'close-padded' ? `--${b}-- \t\n` : ending === 'epilogue' ? `--${b}--\nepilogue --${b}\n\u00e4` : `--${b}--`;
          return `Content-Type: multipart/${subtype}; ${text}\n${extra}\n${preamble}${preamble ? '\n' : ''}${parts}${end}`;
        }),
    ),
  }));
  return node;
}

/** A message: top-level fields, then an entity. */
export function mimeMessage(): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom('From: Amt <amt@stadt.example>\nTo: a@example.org\nSubject: Fuzz\nMIME-Version: 1.0\n', 'From: amt@stadt.example\n', ''), mimeEntity()).map(([top, entity]) => `${top}${entity}`);
}

/** Line endings, per line in turn: mostly CRLF, some LF-only and bare CR. */
export const lineEnds = fc.array(fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r'), { minLength: 1, maxLength: 8 });

export function withLineEnds(text: string, ends: readonly string[]): Buffer {
  const lines = text.split('\n');
  let out = '';
  lines.forEach((line, i) => {
    out += line;
    if (i < lines.length - 1) out += ends[i % ends.length] as string;
  });
  return Buffer.from(out, 'latin1');
}

/** A hostile message as bytes, with a trailing line ending or not. */
export const hostileMessage: fc.Arbitrary<Buffer> = fc.tuple(mimeMessage(), lineEnds, fc.boolean()).map(([text, ends, trailing]) => withLineEnds(trailing ? `${text}\n` : text, ends));
