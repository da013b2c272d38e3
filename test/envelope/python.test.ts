/**
 * Python cryptography (48) PKCS7EnvelopeBuilder / pkcs7_decrypt_der both
 * ways. Its API takes RSA recipients only and speaks PKCS #1 v1.5 with
 * AES-CBC, so that is what is exchanged here.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { encryptEnvelope } from '../../src/smime/envelope-encrypt.js';
import { envelopeFixtures, removeFixtures, keyOf, runOk, sampleContent, type Fixtures } from './fixtures.js';

const PEER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'envelope-peer.py');
let f: Fixtures;
const content = sampleContent(7000);

beforeAll(async () => {
  f = await envelopeFixtures();
});

afterAll(removeFixtures);

describe('Python cryptography', () => {
  test.each([
    ['rsa2048', 'aes128', 'aes-128-cbc'],
    ['rsa3072', 'aes256', 'aes-256-cbc'],
  ] as const)('PKCS7EnvelopeBuilder to %s with %s decrypts to the exact content', async (name, algorithm, expected) => {
    const der = runOk('python3', [PEER, 'encrypt', f[name].certPem, algorithm], content);
    const result = await decryptEnvelope(der, [keyOf(f.rsa2048), keyOf(f.rsa3072)]);
    expect(result.content.equals(content)).toBe(true);
    expect(result.contentEncryption).toBe(expected);
    expect(result.keyManagement).toBe('rsa-pkcs1');
  });

  test.each(['rsa2048', 'rsa3072'] as const)('pkcs7_decrypt_der reads encryptEnvelope to %s', async (name) => {
    const der = await encryptEnvelope(content, [{ certificate: f[name].issued.certificate }]);
    expect(runOk('python3', [PEER, 'decrypt', f[name].certPem, f[name].keyPem], der).equals(content)).toBe(true);
  });
});
