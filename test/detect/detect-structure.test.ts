/**
 * detectSmime on hand-built structures around a real OpenSSL signature:
 * boundary syntax variants, transport padding, broken framing, limits and
 * hostile input. Each variant that keeps the signed bytes must still verify
 * with `openssl cms -verify` over the extracted entity.
 */
import { randomBytes } from 'node:crypto';
import { detectSmime, type SmimeStructure } from '../../src/smime/detect.js';
import { CMS_CONTENT_TYPE, contentInfoType } from '../../src/smime/detect-der.js';
import { createPeer, entity, LIMITS, openssl, opensslVerifiesDetached, writeTemp, type Peer } from './helpers.js';

let peer: Peer;
let signatureB64: string;
const ENTITY = entity('\r\n');

beforeAll(() => {
  peer = createPeer();
  const file = writeTemp(peer, 'entity.txt', ENTITY);
  const der = openssl(peer, ['cms', '-sign', '-in', file, '-signer', peer.cert, '-inkey', peer.key, '-outform', 'DER', '-binary']);
  signatureB64 = (der.toString('base64').match(/.{1,64}/g) ?? []).join('\r\n');
});

function message(contentType: string, opts: { open?: string; close?: string; boundary?: string; sigHeader?: string; sigBody?: string } = {}): Buffer {
  const b = opts.boundary ?? 'b1';
  const open = opts.open ?? `--${b}`;
  const close = opts.close ?? `--${b}--`;
  const sigHeader = opts.sigHeader ?? 'Content-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64';
  return Buffer.concat([
    Buffer.from(`From: a@example.org\r\nContent-Type: ${contentType}\r\n\r\n${open}\r\n`, 'latin1'),
    ENTITY,
    Buffer.from(`\r\n--${b}\r\n${sigHeader}\r\n\r\n${opts.sigBody ?? signatureB64}\r\n${close}\r\n`, 'latin1'),
  ]);
}

function verifies(result: SmimeStructure): boolean {
  if (result.kind !== 'multipart-signed') throw new Error(`expected multipart-signed, got ${JSON.stringify(result)}`);
  return result.signedEntity.equals(ENTITY) && opensslVerifiesDetached(peer, result.signature, result.signedEntity);
}

describe('boundary and parameter syntax', () => {
  test.each([
    ['quoted, protocol first', 'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b1"'],
    ['unquoted, boundary first', 'multipart/signed; boundary=b1; micalg=sha-256; protocol="application/pkcs7-signature"'],
    ['upper case names and values', 'Multipart/Signed; BOUNDARY="b1"; Protocol="Application/PKCS7-Signature"; MICALG=SHA-256'],
    ['folded with comments', 'multipart/signed; (comment; with=things)\r\n\tprotocol="application/pkcs7-signature";\r\n boundary="b1" (end)'],
    ['RFC 2231 continuation', 'multipart/signed; protocol="application/pkcs7-signature"; boundary*0="b"; boundary*1="1"'],
    ['protocol missing, second part decides', 'multipart/signed; boundary="b1"'],
  ])('%s', (_name, ct) => {
    expect(verifies(detectSmime(message(ct), LIMITS))).toBe(true);
  });

  test('boundary with special characters and transport padding after delimiter lines', () => {
    const b = "'()+_,-./:=? x";
    const m = message(`multipart/signed; protocol="application/pkcs7-signature"; boundary="${b}"`, { boundary: b, open: `--${b} \t`, close: `--${b}--  ` });
    const r = detectSmime(m, LIMITS);
    expect(verifies(r)).toBe(true);
    expect(r).toMatchObject({ boundary: b });
  });

  test('a line that merely starts with the boundary is not a delimiter', () => {
    const ct = 'multipart/signed; protocol="application/pkcs7-signature"; boundary="b1"';
    const tricky = Buffer.from(message(ct).toString('latin1').replace('Hello Siegel,', '--b1x is not a delimiter'), 'latin1');
    const r = detectSmime(tricky, LIMITS);
    expect(r.kind).toBe('multipart-signed');
    if (r.kind === 'multipart-signed') expect(r.signedEntity.toString('latin1')).toContain('--b1x is not a delimiter');
  });

  test('signature part in binary transfer encoding (raw DER between the delimiters)', () => {
    const der = Buffer.from(signatureB64.replace(/\r\n/g, ''), 'base64');
    const m = message('multipart/signed; protocol="application/pkcs7-signature"; boundary="b1"', {
      sigHeader: 'Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: binary',
      sigBody: der.toString('latin1'),
    });
    const r = detectSmime(m, LIMITS);
    expect(verifies(r)).toBe(true);
    expect(r.kind === 'multipart-signed' && r.signature.equals(der)).toBe(true);
  });

  test('PGP/MIME multipart/signed is not S/MIME', () => {
    const m = message('multipart/signed; protocol="application/pgp-signature"; boundary="b1"', { sigHeader: 'Content-Type: application/pgp-signature' });
    expect(detectSmime(m, LIMITS)).toEqual({ kind: 'none' });
  });
});

describe('malformed framing', () => {
  const ct = 'multipart/signed; protocol="application/pkcs7-signature"; boundary="b1"';
  test.each([
    ['missing final delimiter', message(ct, { close: 'trailing text' }), 'missing-close-delimiter'],
    ['no boundary parameter', message('multipart/signed; protocol="application/pkcs7-signature"'), 'missing-boundary'],
    ['three parts', message(ct, { close: '--b1\r\nContent-Type: text/plain\r\n\r\nextra\r\n--b1--' }), 'wrong-part-count'],
    ['signature part of another type', message(ct, { sigHeader: 'Content-Type: text/plain' }), 'signature-part-type'],
    ['invalid base64', message(ct, { sigBody: 'MIIB!!!!' }), 'bad-base64'],
    ['quoted-printable signature', message(ct, { sigHeader: 'Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: quoted-printable' }), 'unsupported-transfer-encoding'],
    ['not a CMS structure', message(ct, { sigBody: Buffer.from('hello world!').toString('base64') }), 'not-cms'],
  ])('%s', (_name, m, reason) => {
    expect(detectSmime(m, LIMITS)).toMatchObject({ kind: 'malformed', reason });
  });

  test('two different Content-Type fields are ambiguous', () => {
    const m = Buffer.concat([Buffer.from('Content-Type: text/plain\r\n', 'latin1'), message(ct)]);
    expect(detectSmime(m, LIMITS)).toMatchObject({ kind: 'malformed', reason: 'ambiguous-content-type' });
  });
});

describe('limits and hostile input', () => {
  function nest(inner: Buffer, levels: number): Buffer {
    let m = inner;
    for (let i = 0; i < levels; i++) {
      m = Buffer.concat([
        Buffer.from(`Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\nContent-Type: message/rfc822\r\n\r\n`, 'latin1'),
        m,
        Buffer.from(`\r\n--n${i}--\r\n`, 'latin1'),
      ]);
    }
    return m;
  }

  test('nesting within maxDepth is found, with the part path', () => {
    const r = detectSmime(nest(message('multipart/signed; protocol="application/pkcs7-signature"; boundary="b1"'), 3), LIMITS);
    expect(r.kind).toBe('multipart-signed');
    expect(r.kind === 'multipart-signed' && r.location.path).toEqual([0, 0, 0]);
    expect(verifies(r)).toBe(true);
  });

  test('nesting beyond maxDepth is malformed, not a stack overflow', () => {
    const deep = nest(Buffer.from('Content-Type: text/plain\r\n\r\nx\r\n'), 5000);
    expect(detectSmime(deep, { maxDepth: 50, maxSize: 100 * 1024 * 1024 })).toMatchObject({ kind: 'malformed', reason: 'too-deep' });
  });

  test('plain parts at the depth limit are fine; only descending below it is too deep', () => {
    const plain = nest(Buffer.from('Content-Type: text/plain\r\n\r\nx\r\n'), 2);
    expect(detectSmime(plain, { maxDepth: 4, maxSize: 1 << 20 })).toEqual({ kind: 'none' });
    expect(detectSmime(plain, { maxDepth: 3, maxSize: 1 << 20 })).toMatchObject({ kind: 'malformed', reason: 'too-deep' });
  });

  test('hostile fan-out: too many parts stops early', () => {
    const many = 'Content-Type: multipart/mixed; boundary=f\r\n\r\n' + '--f\r\n\r\nx\r\n'.repeat(20_000) + '--f--\r\n';
    expect(detectSmime(Buffer.from(many), LIMITS)).toEqual({ kind: 'malformed', reason: 'too-many-parts' });
    const fewer = 'Content-Type: multipart/mixed; boundary=f\r\n\r\n' + '--f\r\n\r\nx\r\n'.repeat(9_000) + '--f--\r\n';
    expect(detectSmime(Buffer.from(fewer), LIMITS)).toEqual({ kind: 'none' });
    // limits.mimeParts, as the inbound pipeline passes it, sets the bound.
    const hundred = 'Content-Type: multipart/mixed; boundary=f\r\n\r\n' + '--f\r\n\r\nx\r\n'.repeat(100) + '--f--\r\n';
    expect(detectSmime(Buffer.from(hundred), { ...LIMITS, maxParts: 50 })).toEqual({ kind: 'malformed', reason: 'too-many-parts' });
    expect(detectSmime(Buffer.from(hundred), { ...LIMITS, maxParts: 200 })).toEqual({ kind: 'none' });
  });

  test('a message above maxSize is not inspected', () => {
    expect(detectSmime(Buffer.alloc(1001, 0x41), { maxDepth: 5, maxSize: 1000 })).toEqual({ kind: 'malformed', reason: 'too-large' });
  });

  test('plain messages and an empty buffer are none', () => {
    expect(detectSmime(Buffer.alloc(0), LIMITS)).toEqual({ kind: 'none' });
    expect(detectSmime(Buffer.from('Subject: hi\r\n\r\nbody\r\n'), LIMITS)).toEqual({ kind: 'none' });
    // an application/pkcs7-mime part inside multipart/mixed is an attachment, not a layer
    const attached = 'Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nAAAA\r\n--m--\r\n';
    expect(detectSmime(Buffer.from(attached), LIMITS)).toEqual({ kind: 'none' });
  });

  test('random mutations of a signed message never throw and stay fast', () => {
    const base = message('multipart/signed; protocol="application/pkcs7-signature"; boundary="b1"');
    const started = Date.now();
    let seed = 0x5eed;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 2000; i++) {
      const m = Buffer.from(base);
      const noise = Buffer.alloc(8);
      for (let j = 0; j < 8; j++) noise[j] = next() >>> 24; // deterministic: a failure can be replayed
      for (let j = 0; j < 4; j++) m[(noise.readUInt16LE(j * 2) * 7) % m.length] = noise[j] as number;
      const cut = i % 3 === 0 ? m.subarray(0, (i * 13) % m.length) : m;
      expect(['none', 'multipart-signed', 'malformed']).toContain(detectSmime(cut, LIMITS).kind);
    }
    for (let i = 0; i < 200; i++) expect(() => detectSmime(randomBytes(2000), LIMITS)).not.toThrow();
    expect(Date.now() - started).toBeLessThan(20000);
  });

  test('a long run of white space in a base64 signature is scanned linearly', () => {
    const hostile = message('multipart/signed; protocol="application/pkcs7-signature"; boundary="b1"', { sigBody: 'MIIB' + ' '.repeat(2_000_000) + '!' });
    const started = Date.now();
    expect(detectSmime(hostile, LIMITS)).toMatchObject({ kind: 'malformed', reason: 'bad-base64' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('contentInfoType', () => {
  test('reads definite, long-form and indefinite lengths and the compressedData OID', () => {
    // 1.2.840.113549.1.9.16.1.9 (RFC 3274); no peer here writes CompressedData (OpenSSL built without zlib)
    const oid = Buffer.from('060b2a864886f70d0109100109', 'hex');
    expect(contentInfoType(Buffer.concat([Buffer.from([0x30, 0x80]), oid]))).toBe(CMS_CONTENT_TYPE.compressedData);
    expect(contentInfoType(Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), oid]))).toBe(CMS_CONTENT_TYPE.compressedData);
    expect(contentInfoType(Buffer.from([0x30, 0x03, 0x06, 0x05]))).toBeUndefined();
    expect(contentInfoType(Buffer.from([0x31, 0x00]))).toBeUndefined();
    expect(contentInfoType(Buffer.alloc(0))).toBeUndefined();
  });

  test('a compressed-data part is reported as compressed', () => {
    const der = Buffer.concat([Buffer.from([0x30, 0x0f]), Buffer.from('060b2a864886f70d0109100109', 'hex'), Buffer.from([0xa0, 0x00])]);
    const m = `Content-Type: application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z\r\nContent-Transfer-Encoding: base64\r\n\r\n${der.toString('base64')}\r\n`;
    expect(detectSmime(Buffer.from(m), LIMITS)).toMatchObject({ kind: 'compressed', smimeType: 'compressed-data' });
  });
});
