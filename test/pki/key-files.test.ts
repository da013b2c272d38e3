import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SiegelError } from '../../src/errors.js';
import { parseCertificates, parsePrivateKey, readKeyFiles } from '../../src/pki/key-files.js';
import { toPem } from '../../src/pki/pem.js';
import { mailboxCert, tempDir, testPki, writePemFiles } from './test-pki.js';

const dir = tempDir('siegel-keyfiles-');

function openssl(...args: string[]): Buffer {
  return execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function rejection(fn: () => unknown): SiegelError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SiegelError);
    expect((err as SiegelError).code).toBe('ENROLL_REJECTED');
    return err as SiegelError;
  }
  throw new Error('expected a rejection');
}

describe('readKeyFiles', () => {
  it('reads PEM certificate, PKCS#8 key and a PEM chain; drops the root', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'pem@stadt.example' });
    const files = writePemFiles(dir, 'pem', leaf, pki);
    const material = readKeyFiles({ certificate: readFileSync(files.cert), privateKey: readFileSync(files.key), chain: readFileSync(files.chain) });
    expect(material.certificate.equals(leaf.certificate)).toBe(true);
    expect(material.chain.map((c) => c.equals(pki.ca.certificate))).toEqual([true]);
  });

  it('finds the leaf in a full-chain file in any order', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'fullchain@stadt.example' });
    const fullchain = toPem('CERTIFICATE', pki.root.certificate) + toPem('CERTIFICATE', pki.ca.certificate) + toPem('CERTIFICATE', leaf.certificate);
    const material = readKeyFiles({ certificate: Buffer.from(fullchain), privateKey: leaf.privateKey.export({ type: 'pkcs8', format: 'der' }) });
    expect(material.certificate.equals(leaf.certificate)).toBe(true);
    expect(material.chain).toHaveLength(1);
  });

  it('reads DER certificate with a DER PKCS#1 RSA key', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'der@stadt.example' });
    const material = readKeyFiles({ certificate: leaf.certificate, privateKey: leaf.privateKey.export({ type: 'pkcs1', format: 'der' }) });
    expect(new X509Certificate(material.certificate).checkPrivateKey(material.privateKey)).toBe(true);
  });

  it('reads SEC1 EC keys, PEM and DER', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'sec1@stadt.example', keySpec: 'p256' });
    const pem = Buffer.from(leaf.privateKey.export({ type: 'sec1', format: 'pem' }));
    const der = leaf.privateKey.export({ type: 'sec1', format: 'der' });
    for (const key of [pem, der]) {
      const material = readKeyFiles({ certificate: leaf.certificate, privateKey: key });
      expect(material.privateKey.asymmetricKeyType).toBe('ec');
    }
  });

  it('reads a PKCS#7 chain bundle (.p7b) keeping the original bytes', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'p7b@stadt.example' });
    const files = writePemFiles(dir, 'p7b', leaf, pki);
    const p7b = path.join(dir, 'chain.p7b');
    openssl('crl2pkcs7', '-nocrl', '-certfile', files.chain, '-outform', 'DER', '-out', p7b);
    const certs = parseCertificates(readFileSync(p7b), 'chain file');
    expect(certs.map((c) => c.equals(pki.ca.certificate) || c.equals(pki.root.certificate))).toEqual([true, true]);
    const pem = openssl('crl2pkcs7', '-nocrl', '-certfile', files.chain);
    expect(parseCertificates(pem, 'chain file')).toHaveLength(2);
  });

  it('reads encrypted keys with their passphrase and explains a missing or wrong one', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'enc@stadt.example' });
    const files = writePemFiles(dir, 'enc', leaf, pki);
    const pkcs8 = path.join(dir, 'enc-pkcs8.pem');
    const traditional = path.join(dir, 'enc-trad.pem');
    const pkcs8Der = path.join(dir, 'enc-pkcs8.der');
    openssl('pkcs8', '-topk8', '-in', files.key, '-out', pkcs8, '-passout', 'pass:Schlüssel');
    openssl('pkcs8', '-topk8', '-in', files.key, '-outform', 'DER', '-out', pkcs8Der, '-passout', 'pass:Schlüssel');
    openssl('rsa', '-in', files.key, '-aes256', '-traditional', '-out', traditional, '-passout', 'pass:Schlüssel');
    expect(readFileSync(traditional, 'latin1')).toContain('Proc-Type: 4,ENCRYPTED');
    for (const file of [pkcs8, traditional, pkcs8Der]) {
      const bytes = readFileSync(file);
      const key = parsePrivateKey(bytes, 'Schlüssel');
      expect(new X509Certificate(leaf.certificate).checkPrivateKey(key)).toBe(true);
      expect(rejection(() => parsePrivateKey(bytes, undefined)).message).toMatch(/is encrypted; give its passphrase with --key-passphrase-file/);
      expect(rejection(() => parsePrivateKey(bytes, 'falsch')).message).toMatch(/wrong passphrase/);
    }
  });

  it('rejects a certificate that does not belong to the key', async () => {
    const pki = await testPki('rsa2048');
    const a = await mailboxCert(pki, { email: 'a@stadt.example' });
    const b = await mailboxCert(pki, { email: 'b@stadt.example' });
    const err = rejection(() => readKeyFiles({ certificate: a.certificate, privateKey: b.privateKey.export({ type: 'pkcs8', format: 'der' }) }));
    expect(err.message).toMatch(/no certificate matches the private key/);
  });

  it('rejects files without certificates or keys', () => {
    expect(rejection(() => parseCertificates(Buffer.from('-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n'), 'certificate file')).message).toMatch(
      /no PEM CERTIFICATE block/,
    );
    expect(rejection(() => parseCertificates(Buffer.from('garbage'), 'certificate file')).message).toMatch(/neither a certificate/);
    expect(rejection(() => parsePrivateKey(Buffer.from('garbage'), undefined)).message).toMatch(/no readable private key/);
  });
});
