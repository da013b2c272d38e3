/** OpenSSL `cms` both ways: messages it encrypts decrypt here, messages encrypted here decrypt there. */
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { encryptEnvelope } from '../../src/smime/envelope-encrypt.js';
import { ENV_OID } from '../../src/smime/envelope-oids.js';
import { envelopeFixtures, removeFixtures, file, keyOf, readBytes, run, runOk, sampleContent, type Fixtures, type Recipient } from './fixtures.js';

let f: Fixtures;
const content = sampleContent();

beforeAll(async () => {
  f = await envelopeFixtures();
});

afterAll(removeFixtures);

function opensslEncrypt(name: string, recipient: Recipient, extra: readonly string[]): Buffer {
  const input = file(f.dir, `${name}.in`, content);
  const out = `${f.dir}/${name}.p7m`;
  // With -keyopt the recipient must come as -recip before the options; else it is the trailing argument.
  const who = extra.includes('-keyopt') ? ['-recip', recipient.certPem, ...extra] : [...extra, recipient.certPem];
  runOk('openssl', ['cms', '-encrypt', '-binary', '-in', input, '-outform', 'DER', '-out', out, ...who]);
  return readBytes(out);
}

describe('decrypting what openssl cms -encrypt writes', () => {
  const cases: ReadonlyArray<[string, () => Recipient, readonly string[], string, string, boolean]> = [
    ['RSA-2048 default (PKCS#1 v1.5, AES-256-CBC)', () => f.rsa2048, ['-aes-256-cbc'], 'rsa-pkcs1', 'aes-256-cbc', false],
    ['RSA-3072 AES-128-CBC', () => f.rsa3072, ['-aes-128-cbc'], 'rsa-pkcs1', 'aes-128-cbc', false],
    ['RSA-2048 AES-192-CBC', () => f.rsa2048, ['-aes-192-cbc'], 'rsa-pkcs1', 'aes-192-cbc', false],
    ['RSA-OAEP SHA-256', () => f.rsa3072, ['-aes-256-cbc', '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256'], 'rsa-oaep', 'aes-256-cbc', false],
    ['RSA-OAEP SHA-1 default', () => f.rsa2048, ['-aes-256-cbc', '-keyopt', 'rsa_padding_mode:oaep'], 'rsa-oaep', 'aes-256-cbc', false],
    ['AES-256-GCM AuthEnvelopedData', () => f.rsa2048, ['-aes-256-gcm'], 'rsa-pkcs1', 'aes-256-gcm', true],
    ['AES-128-GCM AuthEnvelopedData', () => f.rsa3072, ['-aes-128-gcm'], 'rsa-pkcs1', 'aes-128-gcm', true],
    ['P-256 ECDH (no ukm) AES-256-CBC', () => f.p256, ['-aes-256-cbc'], 'ecdh', 'aes-256-cbc', false],
    ['P-256 ECDH AES-256-GCM', () => f.p256, ['-aes-256-gcm'], 'ecdh', 'aes-256-gcm', true],
    ['P-256 ECDH sha1 KDF, aes128-wrap', () => f.p256, ['-aes-128-cbc', '-keyopt', 'ecdh_kdf_md:sha1'], 'ecdh', 'aes-128-cbc', false],
    ['P-256 ECDH sha384 KDF, aes192-wrap', () => f.p256, ['-aes-192-cbc', '-keyopt', 'ecdh_kdf_md:sha384'], 'ecdh', 'aes-192-cbc', false],
    ['P-256 ECDH sha512 KDF', () => f.both, ['-aes-256-gcm', '-keyopt', 'ecdh_kdf_md:sha512'], 'ecdh', 'aes-256-gcm', true],
    ['P-384 ECDH AES-256-CBC', () => f.p384, ['-aes-256-cbc'], 'ecdh', 'aes-256-cbc', false],
    ['RSA-2048 3DES (legacy senders)', () => f.rsa2048, ['-des3'], 'rsa-pkcs1', 'des-ede3-cbc', false],
    ['P-256 ECDH by subjectKeyIdentifier', () => f.p256, ['-aes-256-cbc', '-keyid'], 'ecdh', 'aes-256-cbc', false],
    ['RSA by subjectKeyIdentifier', () => f.rsa2048, ['-aes-256-cbc', '-keyid'], 'rsa-pkcs1', 'aes-256-cbc', false],
  ];

  test.each(cases)('%s', async (name, who, extra, keyManagement, contentEncryption, authenticated) => {
    const recipient = who();
    const der = opensslEncrypt(name.replace(/\W+/g, '_'), recipient, extra);
    const result = await decryptEnvelope(der, [keyOf(f.signOnly), keyOf(f.rsa3072), keyOf(f.rsa2048), keyOf(f.p256), keyOf(f.p384), keyOf(f.both)]);
    const printed = runOk('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER'], der).toString('utf8');
    for (const kdf of ['sha1', 'sha384', 'sha512']) {
      if (extra.includes(`ecdh_kdf_md:${kdf}`)) expect(printed).toContain(`dhSinglePass-stdDH-${kdf}kdf-scheme`);
    }
    expect(result.content.equals(content)).toBe(true);
    expect(result.keyManagement).toBe(keyManagement);
    expect(result.contentEncryption).toBe(contentEncryption);
    expect(result.authenticated).toBe(authenticated);
    expect(result.recipient.equals(recipient.issued.certificate)).toBe(true);
  });

  test('a message to several recipients opens with any one of their keys', async () => {
    const input = file(f.dir, 'multi.in', content);
    const out = `${f.dir}/multi.p7m`;
    runOk('openssl', ['cms', '-encrypt', '-binary', '-aes-256-cbc', '-in', input, '-outform', 'DER', '-out', out, f.rsa2048.certPem, f.p256.certPem]);
    const der = readBytes(out);
    expect((await decryptEnvelope(der, [keyOf(f.p256)])).content.equals(content)).toBe(true);
    expect((await decryptEnvelope(der, [keyOf(f.rsa2048)])).content.equals(content)).toBe(true);
  });
});

describe('openssl cms -decrypt reads what encryptEnvelope writes', () => {
  const cases: ReadonlyArray<[string, () => Recipient, readonly string[], 'auto' | 'gcm' | 'cbc', string]> = [
    ['RSA-2048 PKCS#1 v1.5, CBC', () => f.rsa2048, [], 'auto', ENV_OID.envelopedData],
    ['RSA-3072 OAEP SHA-256, CBC', () => f.rsa3072, [ENV_OID.rsaesOaep], 'auto', ENV_OID.envelopedData],
    ['RSA-2048 GCM by capabilities', () => f.rsa2048, [ENV_OID.aes256Gcm, ENV_OID.aes256Cbc], 'auto', ENV_OID.authEnvelopedData],
    ['RSA-3072 OAEP, GCM', () => f.rsa3072, [ENV_OID.aes128Gcm, ENV_OID.rsaesOaep], 'auto', ENV_OID.authEnvelopedData],
    ['P-256 ECDH, CBC', () => f.p256, [], 'auto', ENV_OID.envelopedData],
    ['P-256 ECDH, GCM', () => f.p256, [], 'gcm', ENV_OID.authEnvelopedData],
    ['P-384 ECDH, GCM', () => f.p384, [ENV_OID.aes256Gcm], 'auto', ENV_OID.authEnvelopedData],
    ['P-256 keyUsage both, CBC forced', () => f.both, [ENV_OID.aes256Gcm], 'cbc', ENV_OID.envelopedData],
  ];

  test.each(cases)('%s', async (name, who, capabilities, prefer, contentType) => {
    const recipient = who();
    const der = await encryptEnvelope(content, [{ certificate: recipient.issued.certificate, capabilities }], { prefer });
    const printed = runOk('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER'], der).toString('utf8');
    expect(printed).toContain(contentType === ENV_OID.authEnvelopedData ? 'id-smime-ct-authEnvelopedData' : 'pkcs7-envelopedData');
    if (capabilities.includes(ENV_OID.rsaesOaep)) expect(printed).toContain('rsaesOaep');
    const input = file(f.dir, `${name.replace(/\W+/g, '_')}.ours.p7m`, der);
    const decrypted = runOk('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', input, '-recip', recipient.certPem, '-inkey', recipient.keyPem]);
    expect(decrypted.equals(content)).toBe(true);
    // and our own reader agrees
    const ours = await decryptEnvelope(der, [keyOf(recipient)]);
    expect(ours.content.equals(content)).toBe(true);
    expect(ours.authenticated).toBe(contentType === ENV_OID.authEnvelopedData);
  });

  test('one message to RSA and EC recipients decrypts for each of them in openssl', async () => {
    const der = await encryptEnvelope([content.subarray(0, 100), content.subarray(100)], [
      { certificate: f.rsa2048.issued.certificate },
      { certificate: f.p256.issued.certificate },
    ]);
    const input = file(f.dir, 'ours-multi.p7m', der);
    for (const recipient of [f.rsa2048, f.p256]) {
      const result = run('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', input, '-recip', recipient.certPem, '-inkey', recipient.keyPem]);
      expect(result.stderr).toBe('');
      expect(result.stdout.equals(content)).toBe(true);
    }
  });
});
