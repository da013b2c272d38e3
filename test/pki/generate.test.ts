import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createRootCa, issueCa, issueMailbox } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';

describe('test PKI generator', () => {
  it('builds a root -> issuing CA -> mailbox chain that OpenSSL verifies for S/MIME', async () => {
    const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Test'], ['CN', 'Test Root']], keySpec: 'rsa2048' });
    const ca = await issueCa(root, { subject: [['C', 'DE'], ['O', 'Test'], ['CN', 'Test Issuing CA']], keySpec: 'rsa2048' });
    const leaf = await issueMailbox(ca, {
      subject: [['C', 'DE'], ['O', 'Stadt'], ['CN', 'Poststelle']],
      email: 'poststelle@stadt.example',
      keySpec: 'p256',
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'siegel-pki-'));
    writeFileSync(path.join(dir, 'root.pem'), toPem('CERTIFICATE', root.certificate));
    writeFileSync(path.join(dir, 'ca.pem'), toPem('CERTIFICATE', ca.certificate));
    writeFileSync(path.join(dir, 'leaf.pem'), toPem('CERTIFICATE', leaf.certificate));
    const out = execFileSync('openssl', ['verify', '-purpose', 'smimesign', '-CAfile', path.join(dir, 'root.pem'), '-untrusted', path.join(dir, 'ca.pem'), path.join(dir, 'leaf.pem')]).toString();
    expect(out).toContain('leaf.pem: OK');
    const x509 = new X509Certificate(leaf.certificate);
    expect(x509.subjectAltName).toBe('email:poststelle@stadt.example');
    expect(x509.checkPrivateKey(leaf.privateKey)).toBe(true);
    expect(x509.issuer).toContain('CN=Test Issuing CA');
  });
});

describe('distinguished names', () => {
  it('writes one RDN per attribute, as real PKIs do', async () => {
    const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Test'], ['CN', 'Test Root']], keySpec: 'p256' });
    const x509 = new X509Certificate(root.certificate);
    expect(x509.subject.split('\n')).toEqual(['C=DE', 'O=Test', 'CN=Test Root']);
    const text = execFileSync('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: toPem('CERTIFICATE', root.certificate) }).toString();
    expect(text.trim()).toBe('subject=CN=Test Root,O=Test,C=DE');
  });
});
