/**
 * OpenSSL 3 (`openssl cms -verify`) as the verifying peer: it parses the
 * S/MIME message itself and checks the chain to the given root with the
 * smimesign purpose (keyUsage, emailProtection EKU). (OpenSSL 3.0 does not
 * check signingCertificateV2; the unit tests cover that attribute.)
 */
import { readFileSync } from 'node:fs';
import { createRootCa } from '../../src/pki/generate.js';
import { signContent } from '../../src/smime/sign.js';
import { run, writeFile, writePem } from './helpers.js';
import { createInteropFixtures, inDir, type InteropFixtures } from './interop-fixtures.js';

let fx: InteropFixtures;

beforeAll(async () => {
  fx = await createInteropFixtures('openssl');
});

afterAll(() => fx.cleanup());

const CASES = ['rsa2048', 'rsa3072', 'p256', 'split-rsa3072'];

function theCase(name: string) {
  const found = fx.cases.find((c) => c.name === name);
  if (!found) throw new Error(`no case ${name}`);
  return found;
}

function verify(args: readonly string[], caFile = fx.rootPem) {
  return run('openssl', ['cms', '-verify', ...args, '-CAfile', caFile, '-purpose', 'smimesign']);
}

describe('openssl cms -verify', () => {
  it.each(CASES)('verifies the multipart/signed message (%s) and returns the entity unchanged', (name) => {
    const out = inDir(fx, `${name}-multipart.out`);
    const result = verify(['-in', theCase(name).multipartEml, '-out', out]);
    expect(result.stderr).toContain('Verification successful');
    expect(result.status).toBe(0);
    expect(readFileSync(out).equals(fx.entity)).toBe(true);
  });

  it.each(CASES)('verifies the opaque application/pkcs7-mime message (%s) and extracts the entity', (name) => {
    const out = inDir(fx, `${name}-opaque.out`);
    const result = verify(['-in', theCase(name).opaqueEml, '-out', out]);
    expect(result.stderr).toContain('Verification successful');
    expect(result.status).toBe(0);
    expect(readFileSync(out).equals(fx.entity)).toBe(true);
  });

  it.each(CASES)('verifies the detached DER signature (%s) over the entity as binary content', (name) => {
    const result = verify(['-inform', 'DER', '-in', theCase(name).p7s, '-content', fx.entityFile, '-binary', '-out', inDir(fx, `${name}-der.out`)]);
    expect(result.stderr).toContain('Verification successful');
    expect(result.status).toBe(0);
  });

  it('verifies an opaque signature over 20 MB of chunked content (long-form DER lengths)', async () => {
    const line = Buffer.from(`${'A'.repeat(76)}\r\n`);
    const chunk = Buffer.concat(Array.from({ length: 13_000 }, () => line));
    const chunks = [Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'), ...Array.from({ length: 20 }, () => chunk)];
    const c = theCase('p256');
    const der = await signContent(chunks, c.identity, { signingTime: new Date(Math.floor(Date.now() / 1000) * 1000), detached: false });
    const out = inDir(fx, 'large.out');
    const result = verify(['-inform', 'DER', '-in', writeFile(fx.dir, 'large.p7m', der), '-binary', '-out', out]);
    expect(result.stderr).toContain('Verification successful');
    expect(readFileSync(out).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('rejects the signature over a changed entity', () => {
    const result = verify(['-inform', 'DER', '-in', theCase('rsa3072').p7s, '-content', fx.tamperedFile, '-binary', '-out', inDir(fx, 'tampered.out')]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/digest failure|content verify error/i);
  });

  it('rejects the chain under a different root', async () => {
    const stranger = await createRootCa({ subject: [['CN', 'Unrelated Root']], keySpec: 'p256' });
    const strangerPem = writePem(fx.dir, 'stranger.pem', stranger.certificate);
    const result = verify(['-in', theCase('p256').multipartEml, '-out', inDir(fx, 'stranger.out')], strangerPem);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/certificate verify error|unable to get local issuer certificate/i);
  });
});
