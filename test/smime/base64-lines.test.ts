/**
 * base64 body lines from a chunk list must be exactly those of the joined
 * bytes, wherever the chunks are cut (the enveloped layer hands over the
 * DER structure and the ciphertext pieces without joining them).
 */
import fc from 'fast-check';
import { base64Lines } from '../../src/smime/base64.js';

describe('base64Lines over chunks', () => {
  it('equals the lines of the joined bytes for any cut, across block boundaries (57 KiB blocks)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200_000 }), fc.array(fc.nat(), { maxLength: 6 }), (length, cuts) => {
        const data = Buffer.alloc(length);
        for (let i = 0; i < length; i++) data[i] = (i * 131 + (i >> 8)) & 0xff;
        const points = [...new Set(cuts.map((c) => c % (length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let start = 0;
        for (const point of points) {
          chunks.push(data.subarray(start, point));
          start = point;
        }
        chunks.push(data.subarray(start));
        expect(Buffer.concat(base64Lines(chunks)).equals(Buffer.concat(base64Lines(data)))).toBe(true);
      }),
      { seed: 3, numRuns: 300 },
    );
  });

  it('writes 76-character lines, each ending CRLF, that decode to the input', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
    const text = Buffer.concat(base64Lines([data.subarray(0, 10), data.subarray(10)])).toString('ascii');
    const lines = text.split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines.slice(0, -1).every((line) => line.length === 76)).toBe(true);
    expect(Buffer.from(lines.join(''), 'base64')).toEqual(data);
  });
});
