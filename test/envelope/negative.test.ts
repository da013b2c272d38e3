/** Hostile and wrong input: every failure is a structured EnvelopeError, never a crash or a distinguishable padding error. */
import { randomBytes } from 'node:crypto';
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { encryptEnvelope } from '../../src/smime/envelope-encrypt.js';
import { EnvelopeError } from '../../src/smime/envelope-errors.js';
import { ENV_OID } from '../../src/smime/envelope-oids.js';
import { SiegelError } from '../../src/errors.js';
import { envelopeFixtures, removeFixtures, file, keyOf, readBytes, runOk, sampleContent, type Fixtures } from './fixtures.js';

let f: Fixtures;
const content = sampleContent(3000);

beforeAll(async () => {
  f = await envelopeFixtures();
});

afterAll(removeFixtures);

async function failure(promise: Promise<unknown>): Promise<EnvelopeError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(EnvelopeError);
    expect(err).toBeInstanceOf(SiegelError);
    return err as EnvelopeError;
  }
  throw new Error('expected a failure');
}

/** Offset of the last occurrence of `needle` in `haystack`. */
function lastIndex(haystack: Buffer, needle: Buffer): number {
  const at = haystack.lastIndexOf(needle);
  if (at < 0) throw new Error('not found');
  return at;
}

describe('decryption failures', () => {
  test('a tampered GCM tag fails with the generic error', async () => {
    const der = await encryptEnvelope(content, [{ certificate: f.rsa2048.issued.certificate }], { prefer: 'gcm' });
    const tampered = Buffer.from(der);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01; // the mac is the last field
    const err = await failure(decryptEnvelope(tampered, [keyOf(f.rsa2048)]));
    expect(err.reason).toBe('decryption-failed');
    expect(err.message).toBe('decryption failed');
    // the untampered message still opens
    expect((await decryptEnvelope(der, [keyOf(f.rsa2048)])).authenticated).toBe(true);
  });

  test('tampered GCM ciphertext from openssl fails with the generic error', async () => {
    const input = file(f.dir, 'neg-gcm.in', content);
    const out = `${f.dir}/neg-gcm.p7m`;
    runOk('openssl', ['cms', '-encrypt', '-binary', '-aes-256-gcm', '-in', input, '-outform', 'DER', '-out', out, f.p256.certPem]);
    const der = readBytes(out);
    const tampered = Buffer.from(der);
    const at = der.length - 200;
    tampered[at] = (tampered[at] ?? 0) ^ 0x80;
    const err = await failure(decryptEnvelope(tampered, [keyOf(f.p256)]));
    expect(err.reason).toBe('decryption-failed');
  });

  test('a message for someone else: no recipient matches', async () => {
    const der = await encryptEnvelope(content, [{ certificate: f.rsa3072.issued.certificate }]);
    const err = await failure(decryptEnvelope(der, [keyOf(f.rsa2048), keyOf(f.p256)]));
    expect(err.reason).toBe('no-recipient');
    expect(err.message).toBe('no recipient matches');
  });

  test('PKCS#1 v1.5: a corrupted encrypted key fails exactly like a wrong content key', async () => {
    const der = await encryptEnvelope(content, [{ certificate: f.rsa2048.issued.certificate }], { prefer: 'cbc' });
    // encryptedKey is the 256-byte OCTET STRING (04 82 01 00) of the only KeyTransRecipientInfo.
    const keyAt = lastIndex(der, Buffer.from([0x04, 0x82, 0x01, 0x00])) + 4;
    // Implicit rejection turns a corrupted key block into a pseudo-random content key, and CBC has no integrity:
    // about one attempt in 256 ends in valid padding and yields garbage instead of an error. So several
    // corruptions are tried: every error must be the one generic failure, and no attempt may give the content.
    const attempts: Buffer[] = [];
    for (const offset of [100, 17, 201, 64]) {
      const corruptedKey = Buffer.from(der);
      corruptedKey[keyAt + offset] = (corruptedKey[keyAt + offset] ?? 0) ^ 0xff;
      attempts.push(corruptedKey);
      // A valid key block whose content was encrypted under another key: flip a ciphertext byte of the last block.
      const wrongContent = Buffer.from(der);
      wrongContent[der.length - 20 + (offset % 8)] = (wrongContent[der.length - 20 + (offset % 8)] ?? 0) ^ 0xff;
      attempts.push(wrongContent);
    }
    let errors = 0;
    for (const attempt of attempts) {
      let outcome: unknown;
      try {
        outcome = (await decryptEnvelope(attempt, [keyOf(f.rsa2048)])).content;
      } catch (err) {
        outcome = err;
      }
      if (Buffer.isBuffer(outcome)) {
        expect(outcome.equals(content)).toBe(false);
        continue;
      }
      const err = outcome as EnvelopeError;
      expect(err).toBeInstanceOf(EnvelopeError);
      expect(err.reason).toBe('decryption-failed');
      expect(err.message).toBe('decryption failed');
      expect(err.code).toBe('MESSAGE_MALFORMED');
      expect(err.cause).toBeUndefined();
      errors++;
    }
    expect(errors).toBeGreaterThanOrEqual(attempts.length - 2);
  });

  test('RSA-OAEP with a corrupted key and ECDH with a corrupted wrapped key: the same generic failure', async () => {
    const oaep = await encryptEnvelope(content, [{ certificate: f.rsa2048.issued.certificate, capabilities: [ENV_OID.rsaesOaep] }]);
    const keyAt = lastIndex(oaep, Buffer.from([0x04, 0x82, 0x01, 0x00])) + 4;
    const badOaep = Buffer.from(oaep);
    badOaep[keyAt + 5] = (badOaep[keyAt + 5] ?? 0) ^ 0x01;
    expect((await failure(decryptEnvelope(badOaep, [keyOf(f.rsa2048)]))).message).toBe('decryption failed');

    const ecdh = await encryptEnvelope(content, [{ certificate: f.p256.issued.certificate }]);
    // The wrapped 32-byte key is a 40-byte OCTET STRING (04 28), in the RecipientInfos, i.e. before the
    // encryptedContentInfo's id-data: the random ciphertext after it contains 04 28 once in ~20 messages.
    const contentInfoAt = ecdh.indexOf(Buffer.from('06092a864886f70d010701', 'hex'));
    const wrappedAt = lastIndex(ecdh.subarray(0, contentInfoAt), Buffer.from([0x04, 0x28])) + 2;
    const badEcdh = Buffer.from(ecdh);
    badEcdh[wrappedAt + 3] = (badEcdh[wrappedAt + 3] ?? 0) ^ 0x01;
    expect((await failure(decryptEnvelope(badEcdh, [keyOf(f.p256)]))).message).toBe('decryption failed');
  });

  test('truncated DER at every length is a clear error, never a crash', async () => {
    const der = await encryptEnvelope(content, [{ certificate: f.p256.issued.certificate }], { prefer: 'gcm' });
    for (let length = 0; length < der.length; length += 37) {
      const err = await failure(decryptEnvelope(der.subarray(0, length), [keyOf(f.p256)]));
      expect(['malformed', 'decryption-failed', 'no-recipient']).toContain(err.reason);
    }
  });

  test('garbage and wrong content types are malformed', async () => {
    for (let i = 0; i < 200; i++) {
      const err = await failure(decryptEnvelope(randomBytes(1 + (i % 300)), [keyOf(f.rsa2048)]));
      expect(['malformed', 'unsupported-algorithm', 'no-recipient']).toContain(err.reason);
    }
    const signedDataLike = Buffer.from('300d06092a864886f70d010702a000', 'hex');
    const err = await failure(decryptEnvelope(signedDataLike, [keyOf(f.rsa2048)]));
    expect(err.message).toMatch(/is not EnvelopedData or AuthEnvelopedData/);
  });

  test.each(['gcm', 'cbc'] as const)('random byte flips anywhere never crash (%s)', async (prefer) => {
    const der = await encryptEnvelope(content, [{ certificate: f.rsa2048.issued.certificate }, { certificate: f.p256.issued.certificate }], { prefer });
    for (let i = 0; i < 300; i++) {
      const mutated = Buffer.from(der);
      const at = Math.floor(Math.random() * der.length);
      mutated[at] = (mutated[at] ?? 0) ^ (1 + Math.floor(Math.random() * 255));
      let outcome: Buffer | unknown;
      try {
        outcome = (await decryptEnvelope(mutated, [keyOf(f.p256)])).content;
      } catch (err) {
        outcome = err;
      }
      if (Buffer.isBuffer(outcome)) {
        // GCM: only a flip in a part the P-256 recipient does not depend on (the RSA entry, a version) can succeed;
        // CBC is malleable (why GCM is preferred), so there a changed plaintext may come out.
        if (prefer === 'gcm') expect(outcome.equals(content)).toBe(true);
      } else {
        expect(outcome).toBeInstanceOf(EnvelopeError);
      }
    }
  });

  test('an unsupported content cipher is named', async () => {
    const der = await encryptEnvelope(content, [{ certificate: f.rsa2048.issued.certificate }], { prefer: 'cbc' });
    const aes256Cbc = Buffer.from('060960864801650304012a', 'hex');
    const at = der.indexOf(aes256Cbc);
    const changed = Buffer.from(der);
    changed[at + aes256Cbc.length - 1] = 0x7f; // 2.16.840.1.101.3.4.1.127
    const err = await failure(decryptEnvelope(changed, [keyOf(f.rsa2048)]));
    expect(err.reason).toBe('unsupported-algorithm');
    expect(err.message).toBe('unsupported algorithm 2.16.840.1.101.3.4.1.127 for content encryption');
  });

  test("another recipient's unknown key agreement scheme does not stop us; ours is named when it is ours", async () => {
    const der = await encryptEnvelope(content, [{ certificate: f.rsa2048.issued.certificate }, { certificate: f.p256.issued.certificate }]);
    const sha256Kdf = Buffer.from('06062b8104010b01', 'hex'); // 1.3.132.1.11.1
    const at = der.indexOf(sha256Kdf);
    const changed = Buffer.from(der);
    changed[at + sha256Kdf.length - 1] = 0x09;
    expect((await decryptEnvelope(changed, [keyOf(f.rsa2048)])).content.equals(content)).toBe(true);
    const err = await failure(decryptEnvelope(changed, [keyOf(f.p256)]));
    expect(err.message).toBe('unsupported algorithm 1.3.132.1.11.9 for key agreement');
  });

  test('size limits are enforced before parsing', async () => {
    const der = await encryptEnvelope(sampleContent(100_000), [{ certificate: f.rsa2048.issued.certificate }]);
    const err = await failure(decryptEnvelope(der, [keyOf(f.rsa2048)], { maxBytes: 50_000 }));
    expect(err.reason).toBe('too-large');
    expect(err.code).toBe('MESSAGE_LIMITS_EXCEEDED');
  });
});

describe('encryption refusals', () => {
  test('a sign-only certificate is never encrypted to', async () => {
    const err = await failure(encryptEnvelope(content, [{ certificate: f.rsa2048.issued.certificate }, { certificate: f.signOnly.issued.certificate }]));
    expect(err.reason).toBe('unusable-certificate');
    expect(err.message).toMatch(/does not allow key encipherment or key agreement/);
  });

  test('a CA certificate (keyCertSign only) and garbage are refused', async () => {
    expect((await failure(encryptEnvelope(content, [{ certificate: f.ca.certificate }]))).reason).toBe('unusable-certificate');
    expect((await failure(encryptEnvelope(content, [{ certificate: randomBytes(100) }]))).reason).toBe('unusable-certificate');
    expect((await failure(encryptEnvelope(content, []))).reason).toBe('unusable-certificate');
  });
});
