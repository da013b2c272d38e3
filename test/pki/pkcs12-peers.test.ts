/**
 * PKCS#12 files as other implementations write them: NSS's pk12util (what
 * Thunderbird's certificate manager exports) and Java's keytool (what
 * Java-based PKI portals and Bouncy Castle tooling produce), each for RSA and
 * ECDSA keys with the issuing CA inside.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { KeySpec } from '../../src/pki/generate.js';
import { readPkcs12, readPkcs12Identities } from '../../src/pki/pkcs12.js';
import { mailboxCert, opensslPkcs12, tempDir, testPki } from './test-pki.js';

const passphrase = 'Geheim-123';
let dir: string;

beforeAll(() => {
  dir = tempDir('siegel-p12-peers-');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function source(keySpec: KeySpec, name: string) {
  const pki = await testPki('rsa2048');
  const leaf = await mailboxCert(pki, { email: `${name}@stadt.example`, keySpec });
  return { pki, leaf, p12: path.join(dir, `${name}-openssl.p12`), bytes: opensslPkcs12(dir, `${name}-openssl`, leaf, pki, passphrase, 'modern') };
}

async function expectReadable(file: string, leaf: { certificate: Buffer }, caDer: Buffer) {
  const material = await readPkcs12(readFileSync(file), passphrase);
  expect(material.certificate.equals(leaf.certificate)).toBe(true);
  expect(new X509Certificate(material.certificate).checkPrivateKey(material.privateKey)).toBe(true);
  expect(material.chain.map((c) => c.toString('base64'))).toContain(caDer.toString('base64'));
}

describe.each<KeySpec>(['rsa2048', 'p256'])('PKCS#12 (%s key) written by', (keySpec) => {
  it('NSS pk12util (Thunderbird export)', async () => {
    const name = `nss-${keySpec}`;
    const { pki, leaf } = await source(keySpec, name);
    const db = path.join(dir, `${name}-db`);
    mkdirSync(db);
    execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
    execFileSync('pk12util', ['-i', path.join(dir, `${name}-openssl.p12`), '-d', `sql:${db}`, '-W', passphrase], { stdio: 'pipe' });
    // pk12util exports the key with its certificate chain, as Thunderbird does.
    const out = path.join(dir, `${name}-nss.p12`);
    execFileSync('pk12util', ['-o', out, '-n', `${name}-openssl`, '-d', `sql:${db}`, '-W', passphrase], { stdio: 'pipe' });
    await expectReadable(out, leaf, pki.ca.certificate);
  });

  it('Java keytool', async () => {
    const name = `java-${keySpec}`;
    const { pki, leaf } = await source(keySpec, name);
    const out = path.join(dir, `${name}-java.p12`);
    execFileSync('keytool', [
      '-importkeystore', '-noprompt',
      '-srckeystore', path.join(dir, `${name}-openssl.p12`), '-srcstoretype', 'PKCS12', '-srcstorepass', passphrase,
      '-destkeystore', out, '-deststoretype', 'PKCS12', '-deststorepass', passphrase,
    ], { stdio: 'pipe' });
    await expectReadable(out, leaf, pki.ca.certificate);
  });
});

describe('a PKCS#12 file holding a mailbox signing and encryption key (Java keystore with two entries)', () => {
  it('yields both identities, each with only its CA as chain', async () => {
    const pki = await testPki('rsa2048');
    const sign = await mailboxCert(pki, { email: 'zwei@stadt.example', usage: 'sign' });
    const encrypt = await mailboxCert(pki, { email: 'zwei@stadt.example', usage: 'encrypt' });
    const store = path.join(dir, 'zwei-java.p12');
    for (const [name, leaf] of [['zwei-sign', sign], ['zwei-encrypt', encrypt]] as const) {
      opensslPkcs12(dir, name, leaf, pki, passphrase, 'modern');
      execFileSync('keytool', [
        '-importkeystore', '-noprompt',
        '-srckeystore', path.join(dir, `${name}.p12`), '-srcstoretype', 'PKCS12', '-srcstorepass', passphrase,
        '-destkeystore', store, '-deststoretype', 'PKCS12', '-deststorepass', passphrase,
      ], { stdio: 'pipe' });
    }
    const identities = await readPkcs12Identities(readFileSync(store), passphrase);
    expect(identities).toHaveLength(2);
    const bySerial = (der: Buffer) => new X509Certificate(der).serialNumber;
    expect(identities.map((m) => bySerial(m.certificate)).sort()).toEqual([bySerial(sign.certificate), bySerial(encrypt.certificate)].sort());
    for (const material of identities) {
      expect(new X509Certificate(material.certificate).checkPrivateKey(material.privateKey)).toBe(true);
      expect(material.chain).toHaveLength(1);
      expect(material.chain[0]?.equals(pki.ca.certificate)).toBe(true);
    }
    await expect(readPkcs12(readFileSync(store), passphrase)).rejects.toThrow(/2 private keys/);
  });
});
