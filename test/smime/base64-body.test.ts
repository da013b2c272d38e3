/**
 * The strict base64 reader of S/MIME parts, against a byte-by-byte
 * reference: alphabet and white space, at most two "=" at the end, whole
 * quads; anything else is malformed rather than silently skipped.
 */
import fc from 'fast-check';
import { decodeStrictBase64 } from '../../src/smime/detect-body.js';

function reference(body: Buffer): string | undefined {
  let out = '';
  let padding = 0;
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a) continue;
    const alphabet = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x2b || byte === 0x2f;
    if (byte === 0x3d) padding++;
    else if (!alphabet || padding > 0) return undefined;
    out += String.fromCharCode(byte);
  }
  return padding <= 2 && out.length % 4 === 0 ? out : undefined;
}

const characters = fc.constantFrom(...'AZaz09+/=\r\n \t-_.!\u00e4'.split(''), 'QUJD', '====', '\r\n=');

describe('strict base64 of S/MIME parts', () => {
  it('accepts and rejects exactly what the byte-by-byte reference does (5,000 bodies)', () => {
    fc.assert(
      fc.property(fc.array(characters, { maxLength: 40 }), (parts) => {
        const body = Buffer.from(parts.join(''), 'latin1');
        const expected = reference(body);
        expect(decodeStrictBase64(body)).toEqual(expected === undefined ? undefined : Buffer.from(expected, 'base64'));
      }),
      { seed: 5, numRuns: 5000 },
    );
  });

  it('reads a real signature block and refuses a foreign character in it', () => {
    const der = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    const lines = der.toString('base64').replace(/(.{76})/g, '$1\r\n');
    expect(decodeStrictBase64(Buffer.from(lines))).toEqual(der);
    expect(decodeStrictBase64(Buffer.from(lines.replace('A', '-')))).toBeUndefined();
  });
});
