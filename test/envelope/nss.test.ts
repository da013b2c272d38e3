/**
 * NSS (the CMS stack inside Thunderbird) both ways: cmsutil -E output
 * decrypts here, our output decrypts in cmsutil -D. The NSS here (3.87)
 * knows neither ECDH key agreement, RSA-OAEP nor AuthEnvelopedData in CMS,
 * so it is the peer for what a recipient without those capabilities gets:
 * RSAES-PKCS1-v1_5 with AES-256-CBC.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { encryptEnvelope } from '../../src/smime/envelope-encrypt.js';
import { ENV_OID } from '../../src/smime/envelope-oids.js';
import { envelopeFixtures, removeFixtures, file, keyOf, P12_PASSWORD, readBytes, runOk, sampleContent, type Fixtures, type Recipient } from './fixtures.js';

let f: Fixtures;
let db: string;
const content = sampleContent(20_000);

afterAll(async () => {
  rmSync(db.slice('sql:'.length), { recursive: true, force: true });
  await removeFixtures();
});

beforeAll(async () => {
  f = await envelopeFixtures();
  db = `sql:${mkdtempSync(path.join(tmpdir(), 'siegel-envelope-nss-'))}`;
  runOk('certutil', ['-N', '-d', db, '--empty-password']);
  runOk('certutil', ['-A', '-d', db, '-n', 'root', '-t', 'CT,C,C', '-i', f.rootPem]);
  runOk('certutil', ['-A', '-d', db, '-n', 'ca', '-t', ',,', '-i', f.caPem]);
  for (const r of [f.rsa2048, f.rsa3072]) runOk('pk12util', ['-i', r.p12, '-d', db, '-W', P12_PASSWORD, '-K', '']);
});

const recipients = (): ReadonlyArray<[string, Recipient, 'rsa-pkcs1']> => [
  ['RSA-2048', f.rsa2048, 'rsa-pkcs1'],
  ['RSA-3072', f.rsa3072, 'rsa-pkcs1'],
];

describe('NSS cmsutil', () => {
  test.each(['RSA-2048', 'RSA-3072'])('cmsutil -E to %s decrypts to the exact content', async (label) => {
    const [, recipient, keyManagement] = recipients().find(([name]) => name === label) ?? [];
    if (!recipient) throw new Error(label);
    const input = file(f.dir, `nss-${recipient.name}.in`, content);
    const out = path.join(f.dir, `nss-${recipient.name}.p7m`);
    runOk('cmsutil', ['-E', '-d', db, '-r', recipient.email, '-i', input, '-o', out]);
    const result = await decryptEnvelope(readBytes(out), [keyOf(f.rsa2048), keyOf(f.rsa3072), keyOf(f.p256)]);
    expect(result.content.equals(content)).toBe(true);
    expect(result.keyManagement).toBe(keyManagement);
    expect(result.recipient.equals(recipient.issued.certificate)).toBe(true);
  });

  const ours: ReadonlyArray<[string, () => Recipient, readonly string[], 'auto' | 'gcm' | 'cbc']> = [
    ['RSA-2048 PKCS#1 v1.5, CBC', () => f.rsa2048, [], 'auto'],
    ['RSA-3072 PKCS#1 v1.5, CBC', () => f.rsa3072, [ENV_OID.aes256Cbc], 'auto'],
  ];

  test.each(ours)('cmsutil -D reads encryptEnvelope: %s', async (name, who, capabilities, prefer) => {
    const recipient = who();
    const der = await encryptEnvelope(content, [{ certificate: recipient.issued.certificate, capabilities }], { prefer });
    const input = file(f.dir, `nss-ours-${name.replace(/\W+/g, '_')}.p7m`, der);
    const decrypted = runOk('cmsutil', ['-D', '-d', db, '-p', '', '-i', input]);
    expect(decrypted.equals(content)).toBe(true);
  });
});
