/**
 * detectSmime on messages made by OpenSSL. Byte exactness is proven by the
 * peer: `openssl cms -verify -binary` must accept the detached signature
 * over exactly the signedEntity bytes we extracted (or, for LF-only
 * messages, over signedEntityCanonical), and must reject a one-byte change.
 */
import { readFileSync } from 'node:fs';
import { detectSmime, type MultipartSigned, type Pkcs7Mime, type SmimeStructure } from '../../src/smime/detect.js';
import { createPeer, entity, forwardAsAttachment, LIMITS, openssl, opensslVerifiesDetached, run, toCrlf, toLf, withHeaders, writeTemp, type Peer } from './helpers.js';

let peer: Peer;
beforeAll(() => {
  peer = createPeer();
});

function signed(result: SmimeStructure): MultipartSigned {
  if (result.kind !== 'multipart-signed') throw new Error(`expected multipart-signed, got ${JSON.stringify(result)}`);
  return result;
}

function pkcs7(result: SmimeStructure, kind: Pkcs7Mime['kind']): Pkcs7Mime {
  if (result.kind !== kind) throw new Error(`expected ${kind}, got ${result.kind}`);
  return result as Pkcs7Mime;
}

function cmsSign(extra: readonly string[] = [], input = entity('\r\n')): Buffer {
  const file = writeTemp(peer, 'entity.txt', input);
  return openssl(peer, ['cms', '-sign', '-in', file, '-signer', peer.cert, '-inkey', peer.key, ...extra]);
}

describe('multipart/signed from openssl cms -sign (detached)', () => {
  test('CRLF message: signedEntity is exactly what was signed', () => {
    const message = toCrlf(withHeaders(cmsSign(), '\r\n'));
    const r = signed(detectSmime(message, LIMITS));
    expect(r.protocol).toBe('application/pkcs7-signature');
    expect(r.micalg).toBe('sha-256');
    expect(r.signedEntityCanonical).toBeUndefined();
    expect(r.signedEntity.equals(entity('\r\n'))).toBe(true);
    expect(message.subarray(r.signedEntityStart, r.signedEntityEnd).equals(r.signedEntity)).toBe(true);
    expect(r.location.path).toEqual([]);
    expect(r.headerEnd).toBe(message.indexOf('\r\n\r\n') + 2); // the empty line starts here
    expect(message.subarray(r.signaturePartStart, r.signaturePartEnd).toString('latin1')).toMatch(/^Content-Type: application\/pkcs7-signature; name="smime.p7s"\r\n/);
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntity)).toBe(true);
    const tampered = Buffer.from(r.signedEntity);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 3) ^ 0x01, tampered.length - 3);
    expect(opensslVerifiesDetached(peer, r.signature, tampered)).toBe(false);
  });

  test('as openssl writes it (LF framing around a CRLF entity) and with preamble', () => {
    const message = withHeaders(cmsSign());
    expect(message.toString('latin1')).toContain('This is an S/MIME signed message');
    const r = signed(detectSmime(message, LIMITS));
    expect(r.signedEntityCanonical).toBeUndefined();
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntity)).toBe(true);
  });

  test('LF-only message: the exact bytes fail, the canonical CRLF form verifies', () => {
    const message = toLf(withHeaders(cmsSign()));
    const r = signed(detectSmime(message, LIMITS));
    expect(r.signedEntity.includes('\r')).toBe(false);
    expect(r.signedEntityCanonical?.equals(entity('\r\n'))).toBe(true);
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntity)).toBe(false);
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntityCanonical as Buffer)).toBe(true);
  });

  test('without preamble and with an epilogue', () => {
    const text = toCrlf(withHeaders(cmsSign(), '\r\n')).toString('latin1');
    const message = Buffer.from(text.replace('This is an S/MIME signed message\r\n\r\n', '') + 'epilogue text\r\n', 'latin1');
    const r = signed(detectSmime(message, LIMITS));
    expect(message.toString('latin1', r.location.bodyStart, r.location.bodyStart + 2)).toBe('--');
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntity)).toBe(true);
  });

  test('the signature part is base64 with line breaks; any re-wrapping of it still decodes to the same DER', () => {
    const message = toCrlf(withHeaders(cmsSign(), '\r\n'));
    const r = signed(detectSmime(message, LIMITS));
    const body = message.toString('latin1', r.signaturePartStart, r.signaturePartEnd);
    expect(body.split('\r\n').length).toBeGreaterThan(5);
    const b64 = r.signature.toString('base64');
    const rewrapped = message.toString('latin1').replace(/(smime\.p7s"\r\n\r\n)[A-Za-z0-9+/=\r\n]+?(\r\n\r\n------)/, (_m, a: string, b: string) => a + (b64.match(/.{1,40}/g) ?? []).join('\r\n') + b);
    expect(rewrapped).not.toBe(message.toString('latin1'));
    const again = signed(detectSmime(Buffer.from(rewrapped, 'latin1'), LIMITS));
    expect(again.signature.equals(r.signature)).toBe(true);
  });

  test('openssl smime -sign (legacy) writes application/x-pkcs7-signature', () => {
    const file = writeTemp(peer, 'entity.txt', entity('\r\n'));
    const message = withHeaders(openssl(peer, ['smime', '-sign', '-in', file, '-signer', peer.cert, '-inkey', peer.key]));
    const r = signed(detectSmime(message, LIMITS));
    expect(r.protocol).toBe('application/x-pkcs7-signature');
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntity)).toBe(true);
  });

  test.each([
    ['CRLF', (m: Buffer) => toCrlf(m)],
    ['LF-only', (m: Buffer) => toLf(m)],
  ])('nested in a message/rfc822 attachment (%s)', (_name, convert) => {
    const inner = convert(withHeaders(cmsSign()));
    const { outer, innerStart } = forwardAsAttachment(inner);
    const message = convert(outer);
    const r = signed(detectSmime(message, LIMITS));
    expect(r.location.path).toEqual([1]);
    expect(message.subarray(r.location.start, r.location.end).equals(inner)).toBe(true);
    if (convert === toCrlf) expect(r.location.start).toBe(innerStart);
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntityCanonical ?? r.signedEntity)).toBe(true);
  });

  test('a signed message forwarded inside a signed message: the outer layer is the first one', () => {
    const inner = toCrlf(withHeaders(cmsSign()));
    const { outer } = forwardAsAttachment(inner);
    const outerEntity = outer.subarray(outer.indexOf('MIME-Version'));
    const message = toCrlf(withHeaders(cmsSign([], outerEntity), '\r\n'));
    const r = signed(detectSmime(message, LIMITS));
    expect(r.location.path).toEqual([]);
    expect(r.signedEntity.equals(outerEntity)).toBe(true);
    expect(opensslVerifiesDetached(peer, r.signature, r.signedEntity)).toBe(true);
  });
});

describe('application/pkcs7-mime from openssl', () => {
  test('cms -sign -nodetach is opaque-signed; the DER verifies and carries the entity', () => {
    const message = withHeaders(cmsSign(['-nodetach']));
    const r = pkcs7(detectSmime(message, LIMITS), 'opaque-signed');
    expect(r.smimeType).toBe('signed-data');
    const der = writeTemp(peer, 'opaque.der', r.der);
    const v = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', der, '-CAfile', peer.cert, '-purpose', 'any', '-binary']);
    expect(v.status).toBe(0);
    expect(v.stdout.equals(entity('\r\n'))).toBe(true);
  });

  test.each([
    ['enveloped', [] as string[], 'enveloped-data'],
    ['auth-enveloped', ['-aes-256-gcm'], 'authenveloped-data'],
  ] as const)('cms -encrypt %s: the DER decrypts to the entity', (kind, extra, smimeType) => {
    const file = writeTemp(peer, 'entity.txt', entity('\r\n'));
    const message = toCrlf(withHeaders(openssl(peer, ['cms', '-encrypt', '-in', file, ...extra, peer.cert]), '\r\n'));
    const r = pkcs7(detectSmime(message, LIMITS), kind);
    expect(r.smimeType).toBe(smimeType);
    expect(r.mediaType).toBe('application/pkcs7-mime');
    expect(message.subarray(r.location.start, r.location.end).equals(message)).toBe(true);
    const der = writeTemp(peer, 'enc.der', r.der);
    const d = run('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', der, '-recip', peer.cert, '-inkey', peer.key, '-binary']);
    expect(d.status).toBe(0);
    expect(d.stdout.equals(entity('\r\n'))).toBe(true);
  });

  test('smime.p7m without smime-type, and as application/octet-stream: the DER decides', () => {
    const file = writeTemp(peer, 'entity.txt', entity('\r\n'));
    const gcm = withHeaders(openssl(peer, ['cms', '-encrypt', '-in', file, '-aes-256-gcm', peer.cert])).toString('latin1');
    const bare = gcm.replace('smime-type=authEnveloped-data; ', '');
    expect(bare).not.toContain('smime-type');
    const r1 = pkcs7(detectSmime(Buffer.from(bare, 'latin1'), LIMITS), 'auth-enveloped');
    expect(r1.smimeType).toBeUndefined();
    const octet = bare.replace('application/pkcs7-mime; name="smime.p7m"', 'application/octet-stream');
    expect(octet).toContain('Content-Type: application/octet-stream\n');
    const r2 = pkcs7(detectSmime(Buffer.from(octet, 'latin1'), LIMITS), 'auth-enveloped');
    expect(r2.mediaType).toBe('application/octet-stream');
    const signedBare = withHeaders(cmsSign(['-nodetach'])).toString('latin1').replace('smime-type=signed-data; ', '');
    pkcs7(detectSmime(Buffer.from(signedBare, 'latin1'), LIMITS), 'opaque-signed');
  });

  test('an smime-type that contradicts the DER is malformed', () => {
    const file = writeTemp(peer, 'entity.txt', entity('\r\n'));
    const text = withHeaders(openssl(peer, ['cms', '-encrypt', '-in', file, peer.cert])).toString('latin1');
    const lying = Buffer.from(text.replace('smime-type=enveloped-data', 'smime-type=signed-data'), 'latin1');
    expect(detectSmime(lying, LIMITS)).toMatchObject({ kind: 'malformed', reason: 'smime-type-mismatch' });
  });

  test('binary transfer encoding of the DER', () => {
    const file = writeTemp(peer, 'entity.txt', entity('\r\n'));
    const der = openssl(peer, ['cms', '-encrypt', '-in', file, '-outform', 'DER', peer.cert]);
    const head = Buffer.from('Content-Type: application/x-pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: binary\r\n\r\n', 'latin1');
    const r = pkcs7(detectSmime(Buffer.concat([head, der]), LIMITS), 'enveloped');
    expect(r.der.equals(der)).toBe(true);
    expect(readFileSync(peer.cert).length).toBeGreaterThan(0);
  });
});
