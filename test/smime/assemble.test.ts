import { randomBytes } from 'node:crypto';
import { SiegelError } from '../../src/errors.js';
import { buildMultipartSigned, buildOpaqueSigned } from '../../src/smime/assemble.js';
import { base64Lines } from '../../src/smime/base64.js';
import { canonicalEntity, OUTER_HEADERS } from './helpers.js';

const entity = canonicalEntity();
const signature = randomBytes(1800);

function headerBlock(message: string): string {
  return message.slice(0, message.indexOf('\r\n\r\n') + 2);
}

function lines(text: string): string[] {
  return text.split('\r\n');
}

describe('buildMultipartSigned', () => {
  it('keeps the entity byte for byte between the delimiter lines (the CRLF before a delimiter is not content)', () => {
    const chunks = buildMultipartSigned(OUTER_HEADERS, entity, signature, { boundary: 'b-1' });
    // The entity is passed through, not copied.
    expect(chunks).toContain(entity);
    const message = Buffer.concat(chunks);
    const start = message.indexOf('\r\n--b-1\r\n') + '\r\n--b-1\r\n'.length;
    const end = message.indexOf('\r\n--b-1\r\n', start);
    expect(message.subarray(start, end).equals(entity)).toBe(true);
    expect(message.subarray(0, OUTER_HEADERS.length).equals(OUTER_HEADERS)).toBe(true);
    expect(message.subarray(-9).toString()).toBe('--b-1--\r\n');
  });

  it('writes the RFC 8551 headers, a 7-bit preamble and a base64 signature part', () => {
    const message = Buffer.concat(buildMultipartSigned(OUTER_HEADERS, entity, signature, { boundary: 'b-2' })).toString('latin1');
    const head = headerBlock(message);
    expect(head.match(/^MIME-Version: 1\.0\r$/gim)).toHaveLength(1);
    expect(head).toContain('Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n micalg=sha-256; boundary="b-2"\r\n');
    expect(message).toContain('\r\n\r\nThis is an S/MIME signed message\r\n\r\n--b-2\r\n');
    const part = message.slice(message.lastIndexOf('\r\n--b-2\r\n') + 9, message.indexOf('\r\n--b-2--'));
    const [partHead, body] = part.split('\r\n\r\n');
    expect(lines(partHead ?? '')).toEqual([
      'Content-Type: application/pkcs7-signature; name="smime.p7s"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="smime.p7s"',
    ]);
    const bodyLines = lines(body ?? '');
    expect(bodyLines.every((l) => /^[A-Za-z0-9+/=]{1,76}$/.test(l))).toBe(true);
    expect(bodyLines.slice(0, -1).every((l) => l.length === 76)).toBe(true);
    expect(Buffer.from(bodyLines.join(''), 'base64').equals(signature)).toBe(true);
    // Canonical input gives a canonical, 7-bit message: no bare CR or LF, no 8-bit octets.
    expect([...Buffer.from(message, 'latin1')].every((octet) => octet < 0x80)).toBe(true);
    expect(/\r(?!\n)|(?<!\r)\n/.test(message)).toBe(false);
  });

  it('adds MIME-Version only when the outer headers lack it', () => {
    const withVersion = Buffer.concat([Buffer.from('mime-version: 1.0\r\n'), OUTER_HEADERS]);
    const message = Buffer.concat(buildMultipartSigned(withVersion, entity, signature)).toString('latin1');
    expect(headerBlock(message).match(/^mime-version:/gim)).toHaveLength(1);
  });

  it('picks a fresh random boundary that does not occur in the entity', () => {
    const boundaryOf = (m: Buffer): string => /boundary="([^"]+)"/.exec(m.toString('latin1'))?.[1] ?? '';
    const a = boundaryOf(Buffer.concat(buildMultipartSigned(OUTER_HEADERS, entity, signature)));
    const b = boundaryOf(Buffer.concat(buildMultipartSigned(OUTER_HEADERS, entity, signature)));
    expect(a).toMatch(/^[0-9A-Za-z'()+_,\-./:=?]{20,70}$/);
    expect(a).not.toBe(b);
    expect(entity.includes(a)).toBe(false);
  });

  it('refuses a given boundary that occurs in the entity, and malformed outer headers', () => {
    const attempt = (headers: Buffer, boundary?: string) => () => buildMultipartSigned(headers, entity, signature, boundary ? { boundary } : {});
    expect(attempt(OUTER_HEADERS, 'inner-boundary-42')).toThrow(SiegelError);
    expect(attempt(OUTER_HEADERS, 'bad boundary')).toThrow(/invalid MIME boundary/);
    expect(attempt(Buffer.from('Subject: x'))).toThrow(/end with a line break/);
    expect(attempt(Buffer.from('Subject: x\r\n\r\nTo: y\r\n'))).toThrow(/empty line/);
    expect(attempt(Buffer.from('Subject: x\r\nContent-Type: text/plain\r\n'))).toThrow(/content-type/);
    expect(attempt(Buffer.from('Subject: x\r\nnot a header\r\n'))).toThrow(/not a header field/);
  });

  it('accepts folded outer header fields and empty outer headers', () => {
    const folded = Buffer.from('Subject: a long\r\n subject\r\nTo: y@example.org\r\n');
    expect(Buffer.concat(buildMultipartSigned(folded, entity, signature)).subarray(0, folded.length).equals(folded)).toBe(true);
    expect(Buffer.concat(buildMultipartSigned(Buffer.alloc(0), entity, signature)).toString('latin1')).toMatch(/^MIME-Version: 1\.0\r\nContent-Type: multipart\/signed/);
  });
});

describe('buildMultipartSigned with the entity as chunks', () => {
  /** The entity cut at the given offsets (views, no copies). */
  const cut = (...at: number[]): Buffer[] => [0, ...at].map((start, i) => entity.subarray(start, at[i] ?? entity.length));
  const failure = (run: () => unknown): SiegelError => {
    try {
      run();
    } catch (err) {
      if (err instanceof SiegelError) return err;
      throw err;
    }
    throw new Error('expected a SiegelError');
  };

  it('yields the same bytes as the single-Buffer form, passing the chunks through uncopied', () => {
    const chunks = cut(1, 100, 100, 101, 2000);
    expect(Buffer.concat(chunks).equals(entity)).toBe(true);
    const single = Buffer.concat(buildMultipartSigned(OUTER_HEADERS, entity, signature, { boundary: 'b-3' }));
    const built = buildMultipartSigned(OUTER_HEADERS, chunks, signature, { boundary: 'b-3' });
    expect(Buffer.concat(built).equals(single)).toBe(true);
    for (const chunk of chunks.filter((c) => c.length > 0)) expect(built).toContain(chunk);
    // a random boundary is chosen with all chunks in view too
    const random = Buffer.concat(buildMultipartSigned(OUTER_HEADERS, chunks, signature)).toString('latin1');
    const boundary = /boundary="([^"]+)"/.exec(random)?.[1] ?? '';
    expect(boundary).toMatch(/^[0-9A-Za-z'()+_,\-./:=?]{20,70}$/);
    expect(entity.includes(boundary)).toBe(false);
  });

  it('refuses a given boundary that occurs in one chunk or across the seam of two or three chunks', () => {
    const boundary = 'Gr=C3=BC=C3=9Fe';
    const at = entity.indexOf(boundary);
    expect(at).toBeGreaterThan(0);
    expect(entity.indexOf(boundary, at + 1)).toBe(-1); // occurs once, so only the seam can reveal it
    const splits = [
      cut(at + 5), // two chunks, the seam inside the boundary
      cut(at + 1), // two chunks, one byte before the seam
      cut(at + boundary.length - 1), // two chunks, one byte after the seam
      cut(at + 5, at + 6), // three chunks, the middle one shorter than the boundary
      cut(at + 5, at + 5, at + 6, at + 6), // with empty chunks in between
      cut(at - 10), // within one chunk
    ];
    for (const chunks of splits) {
      expect(Buffer.concat(chunks).equals(entity)).toBe(true);
      const err = failure(() => buildMultipartSigned(OUTER_HEADERS, chunks, signature, { boundary }));
      expect(err.code).toBe('SIGNING_FAILED');
      expect(err.message).toMatch(/MIME boundary occurs in the signed entity/);
    }
    // the chunks on either side of the seam do not contain it on their own
    expect(cut(at + 5).some((c) => c.includes(boundary))).toBe(false);
    // and a boundary that is not in the entity is accepted with the same chunks
    expect(() => buildMultipartSigned(OUTER_HEADERS, cut(at + 5), signature, { boundary: 'Gr=C3=BC=C3=9Fe-' })).not.toThrow();
  });
});

describe('buildOpaqueSigned', () => {
  it('writes application/pkcs7-mime signed-data with the SignedData in base64', () => {
    const signedData = randomBytes(5000);
    const message = Buffer.concat(buildOpaqueSigned(OUTER_HEADERS, signedData)).toString('latin1');
    const head = headerBlock(message);
    expect(head.startsWith(OUTER_HEADERS.toString('latin1'))).toBe(true);
    expect(head).toContain('MIME-Version: 1.0\r\n');
    expect(head).toContain('Content-Type: application/pkcs7-mime; smime-type=signed-data;\r\n name="smime.p7m"\r\n');
    expect(head).toContain('Content-Transfer-Encoding: base64\r\n');
    expect(head).toContain('Content-Disposition: attachment; filename="smime.p7m"\r\n');
    const body = message.slice(head.length + 2);
    expect(body.endsWith('\r\n')).toBe(true);
    expect(lines(body.slice(0, -2)).every((l) => l.length <= 76)).toBe(true);
    expect(Buffer.from(body, 'base64').equals(signedData)).toBe(true);
  });
});

describe('base64Lines', () => {
  it('wraps at 76 characters across block boundaries without re-wrapping', () => {
    const data = randomBytes(57 * 1024 * 2 + 100);
    const chunks = base64Lines(data);
    expect(chunks.length).toBe(3);
    const text = Buffer.concat(chunks).toString('ascii');
    const all = lines(text.slice(0, -2));
    expect(all.slice(0, -1).every((l) => l.length === 76)).toBe(true);
    expect(all.join('')).toBe(data.toString('base64'));
    expect(base64Lines(Buffer.alloc(0))).toEqual([]);
  });
});
