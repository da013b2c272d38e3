/**
 * The native-assisted scan must agree with the byte-by-byte reference on
 * every input and every way of cutting it into chunks: CRLF, UTF-8
 * sequences and long lines straddling chunk seams, NULs, bare CR at the
 * very end.
 */
import fc from 'fast-check';
import { scanBytewise, scanChunks } from '../../src/mime/bytes.js';

const interesting = fc.constantFrom(0x0d, 0x0a, 0x00, 0x41, 0x20, 0xc3, 0xa4, 0xe2, 0x82, 0xac, 0xed, 0xa0, 0xf0, 0x9f, 0xff, 0x80);
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.array(interesting, { maxLength: 64 }).map((a) => Buffer.from(a)),
  // Lines around the 998-octet limit, with CRLF, LF or CR endings.
  fc
    .tuple(fc.integer({ min: 990, max: 1002 }), fc.constantFrom('\r\n', '\n', '\r', ''), fc.constantFrom('a', 'ä'))
    .map(([length, end, ch]) => Buffer.from(ch.repeat(length) + end, 'utf8')),
);

function chunked(input: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(input.subarray(start, point));
    start = point;
  }
  chunks.push(input.subarray(start));
  return chunks;
}

describe('scanChunks', () => {
  it('agrees with the byte-by-byte scan on 5,000 inputs cut at random places', () => {
    fc.assert(
      fc.property(fc.array(bytes, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 5 }), (parts, cuts) => {
        const input = Buffer.concat(parts);
        const chunks = chunked(input, cuts);
        expect(scanChunks(chunks)).toEqual(scanBytewise(chunks));
        expect(scanChunks([input])).toEqual(scanBytewise([input]));
      }),
      { seed: 11, numRuns: 5000 },
    );
  });

  it('judges a CRLF split over two chunks and a CR at the very end', () => {
    expect(scanChunks([Buffer.from('a\r'), Buffer.from('\nb')]).bareCr).toBe(false);
    expect(scanChunks([Buffer.from('a\r'), Buffer.from('b')]).bareCr).toBe(true);
    expect(scanChunks([Buffer.from('a\r')]).bareCr).toBe(true);
    expect(scanChunks([Buffer.from('a'), Buffer.from('\n')]).bareLf).toBe(true);
  });
});
