/**
 * Python `cryptography` (OpenSSL-backed, but its own PKCS #7 certificate
 * loader) reads the certificates out of our SignedData: partners' clients
 * harvest the encryption certificate exactly this way.
 */
import { X509Certificate } from 'node:crypto';
import { run } from './helpers.js';
import { createInteropFixtures, type InteropFixtures } from './interop-fixtures.js';

let fx: InteropFixtures;

beforeAll(async () => {
  fx = await createInteropFixtures('python');
});

afterAll(() => fx.cleanup());

const SCRIPT = `
import json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs7
certs = pkcs7.load_der_pkcs7_certificates(open(sys.argv[1], 'rb').read())
print(json.dumps([c.fingerprint(hashes.SHA256()).hex() for c in certs]))
`;

function fingerprint(der: Buffer): string {
  return new X509Certificate(der).fingerprint256.replaceAll(':', '').toLowerCase();
}

function certificatesIn(file: string): string[] {
  const result = run('python3', ['-c', SCRIPT, file]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as string[];
}

describe('python cryptography pkcs7.load_der_pkcs7_certificates', () => {
  it('finds signer, issuing CA and the separate encryption certificate, and no root', () => {
    const c = fx.cases.find((x) => x.name === 'split-rsa3072');
    const encryption = c?.identity.encryptionCertificate;
    if (!c || !encryption) throw new Error('no split case');
    for (const file of [c.p7s, c.p7m]) {
      const found = certificatesIn(file);
      expect(found).toHaveLength(3);
      expect(new Set(found)).toEqual(new Set([fingerprint(c.identity.certificate), fingerprint(fx.pki.ca.certificate), fingerprint(encryption)]));
      expect(found).not.toContain(fingerprint(fx.pki.root.certificate));
    }
  });

  it.each(['rsa2048', 'rsa3072', 'p256'])('lists a combined certificate once, with its CA and without the root (%s)', (name) => {
    const c = fx.cases.find((x) => x.name === name);
    if (!c) throw new Error(`no case ${name}`);
    const found = certificatesIn(c.p7s);
    expect(found.sort()).toEqual([fingerprint(c.identity.certificate), fingerprint(fx.pki.ca.certificate)].sort());
  });
});
