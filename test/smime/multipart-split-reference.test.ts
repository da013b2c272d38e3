/**
 * The delimiter search of splitMultipart (a native search for "--boundary"
 * at line starts) and the parameter splitting of Content-Type values
 * (slices) against plain line-by-line and character-by-character readings
 * of RFC 2046 5.1.1 and RFC 2045 5.1: the multipart/signed signature covers
 * exactly the bytes these offsets name, so a faster search must find the
 * same parts, byte for byte.
 */
import fc from 'fast-check';
import { splitParams } from '../../src/mime/parameter-syntax.js';
import { splitMultipart } from '../../src/smime/detect-multipart.js';

const CR = 0x0d;
const LF = 0x0a;

/** Line by line: a delimiter line is "--" boundary ["--"] padding CRLF|LF; the line break before it belongs to it. */
function referenceSplit(raw: Buffer, bodyStart: number, end: number, boundary: string, maxParts: number) {
  const dash = Buffer.from('--' + boundary, 'latin1');
  const parts: Array<readonly [number, number]> = [];
  let partStart = -1;
  let pos = bodyStart;
  const breakBefore = (lineStart: number): number => {
    if (lineStart - 2 >= bodyStart && raw[lineStart - 2] === CR && raw[lineStart - 1] === LF) return lineStart - 2;
    if (lineStart - 1 >= bodyStart && raw[lineStart - 1] === LF) return lineStart - 1;
    return lineStart;
  };
  while (pos < end) {
    const eol = raw.indexOf(LF, pos);
    const lineEnd = eol === -1 || eol >= end ? end : eol + 1;
    const line = raw.subarray(pos, lineEnd);
    if (line.length >= dash.length && line.subarray(0, dash.length).equals(dash)) {
      let rest = line.subarray(dash.length).toString('latin1');
      const close = rest.startsWith('--');
      if (close) rest = rest.slice(2);
      if (/^[ \t]*(\r\n|\n)?$/.test(rest)) {
        if (partStart >= 0) parts.push([partStart, Math.max(partStart, breakBefore(pos))]);
        if (close) return { parts, closed: true };
        if (parts.length > maxParts) return { parts, closed: false, tooMany: true };
        partStart = lineEnd;
      }
    }
    pos = lineEnd;
  }
  if (partStart >= 0) parts.push([partStart, end]);
  return { parts, closed: false };
}

/** Character by character: ";" outside a quoted string ends a part, a quoted-pair never does. */
function referenceParams(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted && c === '\\' && i + 1 < value.length) {
      current += c + (value[i + 1] as string);
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

const pieces = fc.constantFrom('--b', '--b--', '--bb', '\r\n', '\n', '\r', 'x', ' ', '\t', '-', 'b', 'text');

describe('multipart delimiters and header parameters against plain readings', () => {
  it('splitMultipart finds the same parts as a line-by-line reading (20,000 bodies)', () => {
    fc.assert(
      fc.property(
        fc.array(pieces, { maxLength: 24 }),
        fc.nat(3),
        fc.nat(3),
        fc.constantFrom('b', 'bb', '', 'b\nx'),
        fc.constantFrom(Infinity, 0, 1, 2),
        (body, cutStart, cutEnd, boundary, maxParts) => {
          const raw = Buffer.from(body.join(''), 'latin1');
          const start = Math.min(cutStart, raw.length);
          const end = Math.max(start, raw.length - cutEnd);
          expect(splitMultipart(raw, start, end, boundary, maxParts)).toEqual(referenceSplit(raw, start, end, boundary, maxParts));
        },
      ),
      { seed: 23, numRuns: 20_000 },
    );
  });

  it('splitParams cuts where a character-by-character reading does (20,000 values)', () => {
    const characters = fc.constantFrom('a', '"', '\\', ';', '(', ')', ' ', '=', 'boundary', '*0', "'", '%41');
    fc.assert(
      fc.property(fc.array(characters, { maxLength: 20 }), (chars) => {
        const value = chars.join('');
        expect(splitParams(value)).toEqual(referenceParams(value));
      }),
      { seed: 23, numRuns: 20_000 },
    );
  });
});
