import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  allowsEmailProtection,
  canEncrypt,
  canSign,
  describePublicKey,
  isValidAt,
  parseCertificate,
  roleOf,
} from '../../src/pki/certificate-info.js';
import { readPemBlocks } from '../../src/pki/pem.js';
import { AT, VALID_FROM, VALID_TO, mailboxCert, tempDir, testPki } from './test-pki.js';

const dir = tempDir('siegel-certinfo-');

/** A certificate made by `openssl req -x509` with the given subject and extensions. */
function opensslCert(name: string, subject: string, extensions: readonly string[], key = 'rsa:2048'): Buffer {
  const out = path.join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', key, '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out', out, '-days', '30', '-subj', subject,
      ...extensions.flatMap((ext) => ['-addext', ext])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const der = readPemBlocks(readFileSync(out, 'utf8'))[0]?.der;
  if (!der) throw new Error('openssl wrote no certificate');
  return der;
}

describe('parseCertificate', () => {
  it('describes a sign-only RSA mailbox certificate', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: ['Poststelle@Stadt.Example', 'info@stadt.example'], usage: 'sign' });
    const info = parseCertificate(leaf.certificate);
    expect(info.subject).toBe('CN=Mailbox Poststelle@Stadt.Example,O=Stadt Test,C=DE');
    expect(info.issuer).toBe('CN=Test Issuing CA rsa2048,O=Freistaat Test,C=DE');
    expect(info.emailAddresses).toEqual(['poststelle@stadt.example', 'info@stadt.example']);
    expect(info.legacyEmailAddresses).toEqual([]);
    expect(info.sha256).toBe(createHash('sha256').update(leaf.certificate).digest('hex'));
    expect(info.notBefore).toEqual(VALID_FROM);
    expect(info.notAfter).toEqual(VALID_TO);
    expect(info.keyUsage).toMatchObject({ digitalSignature: true, nonRepudiation: true, keyEncipherment: false, keyAgreement: false, keyCertSign: false });
    expect(info.extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.4']);
    expect(info.isCA).toBe(false);
    expect(info.publicKey).toEqual({ algorithm: 'rsa', bits: 2048, curve: undefined });
    expect(describePublicKey(info.publicKey)).toBe('RSA-2048');
    expect(canSign(info)).toBe(true);
    expect(canEncrypt(info)).toBe(false);
    expect(roleOf(info)).toBe('sign');
    expect(allowsEmailProtection(info)).toBe(true);
    expect(isValidAt(info, AT)).toBe(true);
    expect(isValidAt(info, new Date('2029-01-01T00:00:01Z'))).toBe(false);
  });

  it('serial matches what openssl prints', async () => {
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: 'serial@stadt.example' });
    const file = path.join(dir, 'serial.der');
    writeFileSync(file, leaf.certificate);
    const printed = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', '-serial']).toString().trim();
    expect(`serial=${parseCertificate(leaf.certificate).serialHex}`).toBe(printed);
  });

  it('treats keyAgreement on an EC key as encryption and keyEncipherment as not', async () => {
    const pki = await testPki('rsa2048');
    const info = parseCertificate((await mailboxCert(pki, { email: 'ec@stadt.example', keySpec: 'p256', usage: 'encrypt' })).certificate);
    expect(info.publicKey).toEqual({ algorithm: 'ec', bits: 256, curve: 'P-256' });
    expect(info.keyUsage?.keyAgreement).toBe(true);
    expect(canEncrypt(info)).toBe(true);
    expect(canSign(info)).toBe(false);
    expect(roleOf(info)).toBe('encrypt');

    const odd = parseCertificate(opensslCert('ec-ke', '/CN=odd', ['keyUsage=critical,keyEncipherment', 'subjectAltName=email:odd@x.example'], 'ec:' + ecParams()));
    expect(canEncrypt(odd)).toBe(false);
    expect(roleOf(odd)).toBeUndefined();
  });

  it('reports a CA certificate', async () => {
    const pki = await testPki('rsa2048');
    const info = parseCertificate(pki.ca.certificate);
    expect(info.isCA).toBe(true);
    expect(info.keyUsage).toMatchObject({ keyCertSign: true, cRLSign: true, digitalSignature: false });
    expect(info.selfIssued).toBe(false);
    expect(parseCertificate(pki.root.certificate).selfIssued).toBe(true);
  });

  it('leaves keyUsage and extendedKeyUsage undefined when absent (every usage allowed)', () => {
    const info = parseCertificate(opensslCert('noku', '/CN=No KU', ['subjectAltName=email:noku@x.example', 'basicConstraints=critical,CA:FALSE']));
    expect(info.keyUsage).toBeUndefined();
    expect(info.extendedKeyUsage).toBeUndefined();
    expect(canSign(info)).toBe(true);
    expect(canEncrypt(info)).toBe(true);
    expect(roleOf(info)).toBe('both');
    expect(allowsEmailProtection(info)).toBe(true);
  });

  it('flags the legacy emailAddress attribute separately and escapes names per RFC 4514', () => {
    const info = parseCertificate(
      opensslCert('legacy', '/C=DE/O=Stadt, Amt 7/CN=Alt/emailAddress=Alt@X.example', ['basicConstraints=critical,CA:FALSE', 'extendedKeyUsage=clientAuth']),
    );
    expect(info.emailAddresses).toEqual([]);
    expect(info.legacyEmailAddresses).toEqual(['alt@x.example']);
    expect(info.subject).toBe('emailAddress=Alt@X.example,CN=Alt,O=Stadt\\, Amt 7,C=DE');
    expect(allowsEmailProtection(info)).toBe(false);
  });

  it('accepts anyExtendedKeyUsage', () => {
    const info = parseCertificate(opensslCert('anyeku', '/CN=Any', ['extendedKeyUsage=anyExtendedKeyUsage,serverAuth']));
    expect(allowsEmailProtection(info)).toBe(true);
  });

  it('throws on bytes that are not a certificate', () => {
    expect(() => parseCertificate(Buffer.from('nope'))).toThrow();
  });
});

function ecParams(): string {
  const file = path.join(dir, 'p256.params');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-out', file]);
  return file;
}
