/** Our own writer and reader together: algorithm choice, authAttrs in the GCM AAD, the MIME wrapping. */
import { constants, createCipheriv, publicEncrypt, randomBytes, X509Certificate } from 'node:crypto';
import { certificateRef, issuerAndSerialNumber } from '../../src/smime/certificate-ref.js';
import { NULL, octetString, oid, sequence, setOf, tlv } from '../../src/smime/der.js';
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { encryptEnvelope } from '../../src/smime/envelope-encrypt.js';
import { EnvelopeError } from '../../src/smime/envelope-errors.js';
import { buildEnvelopedMime } from '../../src/smime/envelope-mime.js';
import { ENV_OID } from '../../src/smime/envelope-oids.js';
import { envelopeFixtures, removeFixtures, keyOf, runOk, sampleContent, type Fixtures } from './fixtures.js';

let f: Fixtures;
const content = sampleContent(4000);

beforeAll(async () => {
  f = await envelopeFixtures();
});

afterAll(removeFixtures);

describe('algorithm choice', () => {
  test('GCM only when every recipient advertises AES-GCM', async () => {
    const gcmCapable = { certificate: f.rsa2048.issued.certificate, capabilities: [ENV_OID.aes256Gcm, ENV_OID.aes256Cbc] };
    const legacy = { certificate: f.p256.issued.certificate, capabilities: [ENV_OID.aes256Cbc] };
    const aes128Gcm = { certificate: f.rsa3072.issued.certificate, capabilities: [ENV_OID.aes128Gcm] };
    const both = await decryptEnvelope(await encryptEnvelope(content, [gcmCapable, aes128Gcm]), [keyOf(f.rsa3072)]);
    expect([both.contentEncryption, both.authenticated]).toEqual(['aes-256-gcm', true]);
    const mixed = await decryptEnvelope(await encryptEnvelope(content, [gcmCapable, legacy]), [keyOf(f.p256)]);
    expect([mixed.contentEncryption, mixed.authenticated, mixed.keyManagement]).toEqual(['aes-256-cbc', false, 'ecdh']);
    const forced = await decryptEnvelope(await encryptEnvelope(content, [legacy], { prefer: 'gcm' }), [keyOf(f.p256)]);
    expect(forced.contentEncryption).toBe('aes-256-gcm');
  });

  test('RSA-OAEP only for recipients that advertise it; chunked content encrypts like one buffer', async () => {
    const chunks = [content.subarray(0, 1), content.subarray(1, 17), content.subarray(17)];
    const oaep = await decryptEnvelope(await encryptEnvelope(chunks, [{ certificate: f.rsa3072.issued.certificate, capabilities: [ENV_OID.rsaesOaep] }]), [keyOf(f.rsa3072)]);
    expect(oaep.keyManagement).toBe('rsa-oaep');
    expect(oaep.content.equals(content)).toBe(true);
    const pkcs1 = await decryptEnvelope(await encryptEnvelope(content, [{ certificate: f.rsa3072.issued.certificate }]), [keyOf(f.rsa3072)]);
    expect(pkcs1.keyManagement).toBe('rsa-pkcs1');
  });

  test('empty content and a 1 MiB content round-trip', async () => {
    for (const body of [Buffer.alloc(0), randomBytes(1024 * 1024)]) {
      for (const prefer of ['gcm', 'cbc'] as const) {
        const result = await decryptEnvelope(await encryptEnvelope(body, [{ certificate: f.p256.issued.certificate }], { prefer }), [keyOf(f.p256)]);
        expect(result.content.equals(body)).toBe(true);
      }
    }
  });
});

describe('AuthEnvelopedData with authAttrs (RFC 5083 2.1)', () => {
  /** Builds an AuthEnvelopedData whose MAC covers authAttrs DER-encoded as SET OF, as the RFC defines. */
  function withAuthAttrs(attrs: Buffer[], sentAttrs: Buffer[] = attrs): Buffer {
    const cek = randomBytes(16);
    const nonce = randomBytes(12);
    const encryptedKey = publicEncrypt({ key: new X509Certificate(f.rsa2048.issued.certificate).publicKey, padding: constants.RSA_PKCS1_PADDING }, cek);
    const ktri = sequence(tlv(0x02, Buffer.from([0])), issuerAndSerialNumber(certificateRef(f.rsa2048.issued.certificate)), sequence(oid(ENV_OID.rsaEncryption), NULL), octetString(encryptedKey));
    const cipher = createCipheriv('aes-128-gcm', cek, nonce, { authTagLength: 12 });
    cipher.setAAD(setOf(attrs));
    const encrypted = Buffer.concat([cipher.update(content), cipher.final()]);
    const eci = sequence(oid(ENV_OID.data), sequence(oid(ENV_OID.aes128Gcm), sequence(octetString(nonce))), tlv(0x80, encrypted));
    const body = sequence(tlv(0x02, Buffer.from([0])), setOf([ktri]), eci, setOf(sentAttrs, 0xa1), octetString(cipher.getAuthTag()));
    return sequence(oid(ENV_OID.authEnvelopedData), tlv(0xa0, body));
  }
  const contentTypeAttr = sequence(oid('1.2.840.113549.1.9.3'), setOf([oid(ENV_OID.data)]));
  const timeAttr = sequence(oid('1.2.840.113549.1.9.5'), setOf([tlv(0x17, Buffer.from('270101000000Z'))]));

  // No peer here writes authAttrs, and OpenSSL 3.0 reads them under the wrong tag ([2], its cms_asn1.c), so this is built by hand.
  test('authAttrs covered by the AAD decrypt (default 12-octet ICV)', async () => {
    const der = withAuthAttrs([contentTypeAttr, timeAttr]);
    const result = await decryptEnvelope(der, [keyOf(f.rsa2048)]);
    expect(result.content.equals(content)).toBe(true);
    expect([result.authenticated, result.contentEncryption]).toEqual([true, 'aes-128-gcm']);
  });

  test('changed authAttrs fail the tag check', async () => {
    const der = withAuthAttrs([contentTypeAttr, timeAttr], [contentTypeAttr]);
    await expect(decryptEnvelope(der, [keyOf(f.rsa2048)])).rejects.toThrow(new EnvelopeError('decryption-failed', 'decryption failed'));
  });
});

describe('buildEnvelopedMime', () => {
  const headers = Buffer.from('From: a@stadt.example\r\nTo: b@example.org\r\nSubject: x\r\n', 'ascii');

  test('writes application/pkcs7-mime with the right smime-type, base64 and an attachment disposition; openssl reads it', async () => {
    for (const authenticated of [false, true]) {
      const der = await encryptEnvelope(content, [{ certificate: f.rsa2048.issued.certificate }], { prefer: authenticated ? 'gcm' : 'cbc' });
      const message = Buffer.concat(buildEnvelopedMime(headers, der, authenticated));
      const text = message.toString('ascii');
      expect(text).toContain(`Content-Type: application/pkcs7-mime; smime-type=${authenticated ? 'authEnveloped-data' : 'enveloped-data'};\r\n name="smime.p7m"\r\n`);
      expect(text).toContain('MIME-Version: 1.0\r\nContent-Type');
      expect(text).toContain('Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7m"\r\n\r\n');
      expect(text.split('\r\n').every((line) => line.length <= 78)).toBe(true);
      const decrypted = runOk('openssl', ['cms', '-decrypt', '-binary', '-recip', f.rsa2048.certPem, '-inkey', f.rsa2048.keyPem], message);
      expect(decrypted.equals(content)).toBe(true);
    }
  });

  test('refuses outer headers that would break the structure', () => {
    const der = Buffer.from([0x30, 0x00]);
    expect(() => buildEnvelopedMime(Buffer.from('Content-Type: text/plain\r\n'), der, false)).toThrow(/content-type/);
    expect(() => buildEnvelopedMime(Buffer.from('From: a\r\n\r\nTo: b\r\n'), der, false)).toThrow(/empty line/);
    expect(() => buildEnvelopedMime(Buffer.from('From: a'), der, false)).toThrow(/line break/);
    const kept = Buffer.concat(buildEnvelopedMime(Buffer.from('MIME-Version: 1.0\r\nFrom: a\r\n'), der, false)).toString('ascii');
    expect(kept.match(/MIME-Version/g)).toHaveLength(1);
  });
});
