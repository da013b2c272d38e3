/**
 * GnuPG gpgsm (KMail, Kleopatra) both ways, RSA recipients. gpgsm 2.2
 * here refuses EC certificates for encryption ("Wrong key usage") and reads
 * neither RSA-OAEP nor AuthEnvelopedData (2.4 does), so it is the peer for
 * what a recipient without those capabilities gets; EC, OAEP and GCM
 * interop is proven with OpenSSL. gpgsm imports PKCS #12 only with an
 * empty passphrase in batch mode, so the test makes such a file.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { encryptEnvelope } from '../../src/smime/envelope-encrypt.js';
import { ENV_OID } from '../../src/smime/envelope-oids.js';
import { gpgsmImportPkcs12 } from '../verify/fixtures.js';
import { envelopeFixtures, removeFixtures, file, keyOf, readBytes, runOk, sampleContent, type Fixtures, type Recipient } from './fixtures.js';

let f: Fixtures;
let home: string;
const content = sampleContent(10_000);

function gpgsmArgs(): string[] {
  return ['--homedir', home, '--batch', '--disable-crl-checks', '--disable-dirmngr', '--pinentry-mode', 'loopback', '--passphrase', ''];
}

function gpgsm(...args: string[]): Buffer {
  return runOk('gpgsm', [...gpgsmArgs(), ...args]);
}

beforeAll(async () => {
  f = await envelopeFixtures();
  home = mkdtempSync(path.join(tmpdir(), 'siegel-envelope-gpgsm-'));
  chmodSync(home, 0o700);
  gpgsm('--import', f.rootPem, f.caPem);
  writeFileSync(path.join(home, 'trustlist.txt'), `${new X509Certificate(f.root.certificate).fingerprint} S relax\n`);
  for (const r of [f.rsa2048, f.rsa3072]) {
    const p12 = path.join(home, `${r.name}.p12`);
    gpgsmImportPkcs12(gpgsmArgs(), () => {
      runOk('openssl', ['pkcs12', '-export', '-in', r.certPem, '-inkey', r.keyPem, '-passout', 'pass:', '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1', '-out', p12]);
      return p12;
    });
  }
});

afterAll(() => {
  runOk('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
  rmSync(home, { recursive: true, force: true });
});

afterAll(removeFixtures);

describe('gpgsm', () => {
  test.each(['rsa2048', 'rsa3072'] as const)('gpgsm --encrypt to %s decrypts to the exact content', async (name) => {
    const recipient: Recipient = f[name];
    const input = file(home, `${name}.in`, content);
    const out = path.join(home, `${name}.p7m`);
    gpgsm('--encrypt', '-r', recipient.email, '-o', out, input);
    const result = await decryptEnvelope(readBytes(out), [keyOf(f.p256), keyOf(f.rsa2048), keyOf(f.rsa3072)]);
    expect(result.content.equals(content)).toBe(true);
    expect(result.keyManagement).toBe('rsa-pkcs1');
    expect(result.recipient.equals(recipient.issued.certificate)).toBe(true);
  });

  const ours: ReadonlyArray<[string, () => Recipient, readonly string[]]> = [
    ['RSA-2048 PKCS#1 v1.5, CBC', () => f.rsa2048, []],
    ['RSA-3072 PKCS#1 v1.5, CBC', () => f.rsa3072, [ENV_OID.aes256Cbc]],
  ];

  test.each(ours)('gpgsm --decrypt reads encryptEnvelope: %s', async (name, who, capabilities) => {
    const der = await encryptEnvelope(content, [{ certificate: who().issued.certificate, capabilities }]);
    const input = file(home, `ours-${name.replace(/\W+/g, '_')}.p7m`, der);
    expect(gpgsm('--decrypt', input).equals(content)).toBe(true);
  });
});
