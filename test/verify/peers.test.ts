/** Signatures from gpgsm, NSS cmsutil, Python cryptography and Siegel's own signer verify to 'pass'. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { toPem } from '../../src/pki/pem.js';
import { signContent } from '../../src/smime/sign.js';
import { verifySignedData } from '../../src/smime/verify-signed-data.js';
import { OID } from '../../src/smime/oids.js';
import { AT, createPki, entity, gpgsmSignDetached, mailbox, nssSign, pythonSign, tempDir, writeSigner, type Pki, type SignerFiles } from './fixtures.js';

let pki: Pki;
let alice: SignerFiles;
let dir: string;
let rootPem: string;
const content = entity('Gru\u00dfe aus dem Rathaus.\r\n');
const trust = (): Parameters<typeof verifySignedData>[1] => ({ anchors: pki.anchors, at: new Date(), fromAddresses: ['alice@example.org'] });

beforeAll(async () => {
  pki = await createPki();
  dir = tempDir();
  rootPem = path.join(dir, 'root.pem');
  writeFileSync(rootPem, toPem('CERTIFICATE', pki.root.certificate));
  // Valid around the real clock too: gpgsm and NSS refuse to sign with a certificate not valid now.
  alice = writeSigner(dir, 'alice', await mailbox(pki.ca, { email: 'alice@example.org', notBefore: new Date('2025-06-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z') }), [pki.ca.certificate, pki.root.certificate]);
});

test('gpgsm --detach-sign passes; tampered content fails', async () => {
  const sig = gpgsmSignDetached(tempDir(), alice, content);
  const out = await verifySignedData({ signedData: sig, content: [content] }, trust());
  expect(out.verdict).toMatchObject({ result: 'pass', reason: 'valid' });
  const bad = await verifySignedData({ signedData: sig, content: [entity('other')] }, trust());
  expect(bad.verdict.result).toBe('fail');
});

test('NSS cmsutil -S detached and opaque pass', async () => {
  const detached = nssSign(tempDir(), alice, rootPem, content, true);
  expect((await verifySignedData({ signedData: detached, content: [content] }, trust())).verdict).toMatchObject({ result: 'pass' });
  const opaque = nssSign(tempDir(), alice, rootPem, content, false);
  const out = await verifySignedData({ signedData: opaque }, trust());
  expect(out.verdict.result).toBe('pass');
  expect(out.embeddedContent?.equals(content)).toBe(true);
});

test('Python cryptography PKCS7SignatureBuilder detached and opaque pass', async () => {
  const detached = pythonSign(dir, alice, content, true);
  const out = await verifySignedData({ signedData: detached, content: [content] }, trust());
  expect(out.verdict).toMatchObject({ result: 'pass' });
  expect(out.smimeCapabilities).toContain('2.16.840.1.101.3.4.1.42');
  const opaque = pythonSign(dir, alice, content, false);
  const embedded = await verifySignedData({ signedData: opaque }, trust());
  expect(embedded.verdict.result).toBe('pass');
  expect(embedded.embeddedContent?.equals(content)).toBe(true);
});

describe('Siegel round trip (src/smime/sign.ts)', () => {
  test('split identity: passes and names the encryption certificate', async () => {
    const signing = await mailbox(pki.ca, { email: 'poststelle@example.org', usage: 'sign' });
    const encryption = await mailbox(pki.ca, { email: 'poststelle@example.org', usage: 'encrypt' });
    const identity = { mailbox: 'poststelle@example.org', certificate: signing.certificate, chain: [pki.ca.certificate], privateKey: signing.privateKey, encryptionCertificate: encryption.certificate };
    for (const detached of [true, false]) {
      const sig = await signContent(content, identity, { signingTime: new Date('2026-12-24T10:00:00Z'), detached });
      const out = await verifySignedData(detached ? { signedData: sig, content: [content] } : { signedData: sig }, { anchors: pki.anchors, at: AT, fromAddresses: ['poststelle@example.org'] });
      expect(out.verdict).toMatchObject({ result: 'pass', reason: 'valid' });
      expect(out.verdict.signingTime?.toISOString()).toBe('2026-12-24T10:00:00.000Z');
      expect(out.certificates.some((c) => c.equals(encryption.certificate))).toBe(true);
      expect(out.smimeCapabilities).toContain(OID.aes256Cbc);
      const pref = out.encryptionKeyPreference;
      expect(pref).toBeDefined();
      const { X509Certificate } = await import('node:crypto');
      expect(pref?.serialHex).toBe(new X509Certificate(encryption.certificate).serialNumber.toUpperCase());
    }
  });

  test('ECDSA P-384 identity passes', async () => {
    const leaf = await mailbox(pki.ca, { email: 'ec@example.org', keySpec: 'p384', usage: 'both' });
    const identity = { mailbox: 'ec@example.org', certificate: leaf.certificate, chain: [pki.ca.certificate], privateKey: leaf.privateKey, encryptionCertificate: leaf.certificate };
    const sig = await signContent([content.subarray(0, 10), content.subarray(10)], identity, { signingTime: new Date('2026-12-24T10:00:00Z'), detached: true });
    expect((await verifySignedData({ signedData: sig, content: [content] }, { anchors: pki.anchors, at: AT })).verdict.result).toBe('pass');
  });
});
