import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SiegelError } from '../../src/errors.js';
import type { KeySpec } from '../../src/pki/generate.js';
import { parseCertificate } from '../../src/pki/certificate-info.js';
import { readPkcs12 } from '../../src/pki/pkcs12.js';
import { mailboxCert, opensslPkcs12, opensslPkcs12Describe, tempDir, testPki, type P12Flavour } from './test-pki.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const PASSPHRASE = 'Geheim-PIN 4711';

async function expectRejected(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SiegelError);
  expect((err as SiegelError).code).toBe('ENROLL_REJECTED');
  expect((err as SiegelError).message).toMatch(message);
}

describe('readPkcs12 with files from openssl pkcs12 -export', () => {
  const dir = tempDir('siegel-p12-');
  const cases: Array<[KeySpec, P12Flavour, RegExp]> = [
    ['rsa2048', 'modern', /PBES2, PBKDF2, AES-256-CBC/],
    ['rsa3072', 'modern', /PBES2, PBKDF2, AES-256-CBC/],
    ['p256', 'modern', /PBES2, PBKDF2, AES-256-CBC/],
    ['rsa2048', 'legacy', /pbeWithSHA1And3-KeyTripleDES-CBC[\s\S]*|pbeWithSHA1And40BitRC2-CBC/],
    ['rsa3072', 'legacy', /pbeWithSHA1And3-KeyTripleDES-CBC/],
    // node-forge models only RSA keys; the reader uses forge for the cipher alone, so EC works too.
    ['p256', 'legacy', /pbeWithSHA1And3-KeyTripleDES-CBC/],
  ];

  it.each(cases)('reads a %s key from a %s file', async (keySpec, flavour, algorithms) => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: `${keySpec}-${flavour}@stadt.example`, keySpec });
    const p12 = opensslPkcs12(dir, `${keySpec}-${flavour}`, leaf, pki, PASSPHRASE, flavour);
    const described = opensslPkcs12Describe(p12, dir, PASSPHRASE);
    expect(described).toMatch(algorithms);
    if (flavour === 'legacy') expect(described).toMatch(/pbeWithSHA1And40BitRC2-CBC/);

    const material = await readPkcs12(p12, PASSPHRASE);
    expect(material.certificate.equals(leaf.certificate)).toBe(true);
    // The root is dropped (trust anchors are configured), the issuing CA kept.
    expect(material.chain).toHaveLength(1);
    expect(material.chain[0]?.equals(pki.ca.certificate)).toBe(true);
    expect(new X509Certificate(material.certificate).checkPrivateKey(material.privateKey)).toBe(true);
    expect(material.privateKey.asymmetricKeyType).toBe(keySpec === 'p256' ? 'ec' : 'rsa');
  });

  it.each<P12Flavour>(['modern', 'legacy'])('rejects a wrong passphrase (%s)', async (flavour) => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: `wrong-${flavour}@stadt.example` });
    const p12 = opensslPkcs12(dir, `wrong-${flavour}`, leaf, pki, PASSPHRASE, flavour);
    await expectRejected(readPkcs12(p12, 'Geheim-PIN 4712'), /^wrong passphrase or damaged PKCS#12 file$/);
  });

  it.each<P12Flavour>(['modern', 'legacy'])('rejects a wrong passphrase when the file has no MAC (%s)', async (flavour) => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: `nomac-${flavour}@stadt.example` });
    const p12 = opensslPkcs12(dir, `nomac-${flavour}`, leaf, pki, PASSPHRASE, flavour, ['-nomac']);
    await expect(readPkcs12(p12, PASSPHRASE)).resolves.toHaveProperty('certificate');
    await expectRejected(readPkcs12(p12, 'nope'), /^wrong passphrase or damaged PKCS#12 file$/);
  });

  it.each<P12Flavour>(['modern', 'legacy'])('takes a passphrase with umlauts (%s)', async (flavour) => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: `umlaut-${flavour}@stadt.example` });
    const p12 = opensslPkcs12(dir, `umlaut-${flavour}`, leaf, pki, 'Größe-Maß-€', flavour);
    const material = await readPkcs12(p12, 'Größe-Maß-€');
    expect(material.certificate.equals(leaf.certificate)).toBe(true);
  });

  it.each<P12Flavour>(['modern', 'legacy'])('reads a file exported with an empty passphrase (%s)', async (flavour) => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: `empty-${flavour}@stadt.example` });
    const p12 = opensslPkcs12(dir, `empty-${flavour}`, leaf, pki, '', flavour);
    expect((await readPkcs12(p12, '')).certificate.equals(leaf.certificate)).toBe(true);
    await expectRejected(readPkcs12(p12, 'x'), /wrong passphrase/);
  });

  it('reads PBES2 with 3DES (a cipher WebCrypto lacks)', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'pbes2-3des@stadt.example' });
    const p12 = opensslPkcs12(dir, 'pbes2-3des', leaf, pki, PASSPHRASE, 'modern', ['-keypbe', 'DES-EDE3-CBC', '-certpbe', 'DES-EDE3-CBC']);
    expect(opensslPkcs12Describe(p12, dir, PASSPHRASE)).toMatch(/PBES2, PBKDF2, DES-EDE3-CBC/);
    const material = await readPkcs12(p12, PASSPHRASE);
    expect(material.certificate.equals(leaf.certificate)).toBe(true);
  });

  it('names an unsupported legacy algorithm', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'rc4@stadt.example' });
    const p12 = opensslPkcs12(dir, 'rc4', leaf, pki, PASSPHRASE, 'legacy', ['-certpbe', 'PBE-SHA1-RC4-128']);
    await expectRejected(readPkcs12(p12, PASSPHRASE), /unsupported algorithm \(pbeWithSHAAnd128BitRC4\)/);
  });

  it('rejects a file without a private key', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'nokey@stadt.example' });
    const p12 = opensslPkcs12(dir, 'nokey', leaf, pki, PASSPHRASE, 'modern', ['-nokeys']);
    await expectRejected(readPkcs12(p12, PASSPHRASE), /contains no private key/);
  });

  it('rejects bytes that are not PKCS#12', async () => {
    await expectRejected(readPkcs12(Buffer.from('-----BEGIN CERTIFICATE-----\n'), PASSPHRASE), /not a PKCS#12 file/);
  });
});

describe('readPkcs12 with files from Python cryptography', () => {
  const PIN = 'Siegel-Test-PIN-ä';

  it('reads a P-256 identity (BestAvailableEncryption: PBES2/AES-256, SHA-256 MAC)', async () => {
    const material = await readPkcs12(readFileSync(path.join(fixtures, 'python-p256-aes.p12')), PIN);
    const info = parseCertificate(material.certificate);
    expect(info.emailAddresses).toEqual(['python-p256@stadt.example']);
    expect(info.publicKey.curve).toBe('P-256');
    expect(material.chain.map((der) => parseCertificate(der).subject)).toEqual(['CN=Python Issuing CA,O=Python Test,C=DE']);
    expect(new X509Certificate(material.certificate).checkPrivateKey(material.privateKey)).toBe(true);
  });

  it('reads an RSA-3072 identity (PBES1 3DES, SHA-1 MAC)', async () => {
    const material = await readPkcs12(readFileSync(path.join(fixtures, 'python-rsa-3des.p12')), PIN);
    const info = parseCertificate(material.certificate);
    expect(info.emailAddresses).toEqual(['python-rsa@stadt.example']);
    expect(info.publicKey).toEqual({ algorithm: 'rsa', bits: 3072, curve: undefined });
    expect(material.chain).toHaveLength(1);
  });

  it('rejects a wrong passphrase', async () => {
    await expectRejected(readPkcs12(readFileSync(path.join(fixtures, 'python-p256-aes.p12')), 'Siegel-Test-PIN-a'), /wrong passphrase/);
  });
});
