/** Signatures made by `openssl cms -sign` (OpenSSL 3), verified by verifySignedData. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { toPem } from '../../src/pki/pem.js';
import { verifySignedData } from '../../src/smime/verify-signed-data.js';
import { AT, createPki, entity, mailbox, opensslSign, tempDir, writeSigner, type Pki, type SignerFiles } from './fixtures.js';

let pki: Pki;
let other: Pki;
let dir: string;
let alice: SignerFiles;
const content = entity();

beforeAll(async () => {
  [pki, other] = await Promise.all([createPki('Test Root'), createPki('Other Root')]);
  dir = tempDir();
  alice = writeSigner(dir, 'alice', await mailbox(pki.ca, { email: 'alice@example.org' }), [pki.ca.certificate]);
});

const trust = (extra: Partial<Parameters<typeof verifySignedData>[1]> = {}): Parameters<typeof verifySignedData>[1] => ({ anchors: pki.anchors, at: AT, ...extra });

describe('openssl cms -sign', () => {
  test('detached SHA-256 RSA-2048 passes, with signer, signing time and capabilities', async () => {
    const sig = opensslSign(dir, alice, content, ['-md', 'sha256']);
    const out = await verifySignedData({ signedData: sig, content: [content] }, trust({ fromAddresses: ['Alice@Example.org'] }));
    expect(out.verdict).toMatchObject({ result: 'pass', reason: 'valid' });
    expect(out.verdict.signer?.emails).toEqual(['alice@example.org']);
    expect(out.verdict.signingTime).toBeInstanceOf(Date);
    expect(out.certificates).toHaveLength(2);
    expect(out.signerCertificate?.equals(readDer(alice.cert))).toBe(true);
    expect(out.smimeCapabilities?.length).toBeGreaterThan(0);
    expect(out.embeddedContent).toBeUndefined();
  });

  test('content given in chunks verifies the same', async () => {
    const sig = opensslSign(dir, alice, content);
    const chunks = [content.subarray(0, 7), content.subarray(7, 40), content.subarray(40)];
    expect((await verifySignedData({ signedData: sig, content: chunks }, trust())).verdict.result).toBe('pass');
  });

  test('opaque (-nodetach) passes and yields the embedded content', async () => {
    const sig = opensslSign(dir, alice, content, ['-nodetach']);
    const out = await verifySignedData({ signedData: sig }, trust());
    expect(out.verdict.result).toBe('pass');
    expect(out.embeddedContent?.equals(content)).toBe(true);
  });

  test('tampered content fails with digest-mismatch', async () => {
    const sig = opensslSign(dir, alice, content);
    const tampered = Buffer.from(content);
    tampered[tampered.length - 3] = (tampered[tampered.length - 3] ?? 0) ^ 0x01;
    const out = await verifySignedData({ signedData: sig, content: [tampered] }, trust());
    expect(out.verdict).toMatchObject({ result: 'fail', reason: 'digest-mismatch' });
  });

  test('tampered signed attributes fail with bad-signature', async () => {
    const sig = Buffer.from(opensslSign(dir, alice, content));
    // The signingTime value sits inside the signed attributes: change one digit of it.
    const at = sig.indexOf(Buffer.from('06092a864886f70d010905', 'hex'));
    expect(at).toBeGreaterThan(0);
    const digit = at + 11 + 4; // SET, UTCTime tag/length, then "YY"
    sig[digit] = sig[digit] === 0x30 ? 0x31 : 0x30;
    const out = await verifySignedData({ signedData: sig, content: [content] }, trust());
    expect(out.verdict).toMatchObject({ result: 'fail', reason: 'bad-signature' });
  });

  test('-noattr: signature directly over the content passes; tampering fails with bad-signature', async () => {
    const sig = opensslSign(dir, alice, content, ['-noattr']);
    expect((await verifySignedData({ signedData: sig, content: [content] }, trust())).verdict.result).toBe('pass');
    const out = await verifySignedData({ signedData: sig, content: [Buffer.concat([content, Buffer.from('x')])] }, trust());
    expect(out.verdict).toMatchObject({ result: 'fail', reason: 'bad-signature' });
  });

  test('From address not in the certificate is policy/from-mismatch', async () => {
    const sig = opensslSign(dir, alice, content);
    const out = await verifySignedData({ signedData: sig, content: [content] }, trust({ fromAddresses: ['mallory@example.org'] }));
    expect(out.verdict).toMatchObject({ result: 'policy', reason: 'from-mismatch' });
    expect(out.verdict.detail).toContain('mallory@example.org');
  });

  test('SHA-1 digest is policy/weak-digest', async () => {
    const sig = opensslSign(dir, alice, content, ['-md', 'sha1']);
    expect((await verifySignedData({ signedData: sig, content: [content] }, trust())).verdict).toMatchObject({ result: 'policy', reason: 'weak-digest' });
  });

  test('SHA-384 and SHA-512 digests pass', async () => {
    for (const md of ['sha384', 'sha512']) {
      const sig = opensslSign(dir, alice, content, ['-md', md]);
      expect((await verifySignedData({ signedData: sig, content: [content] }, trust())).verdict.result).toBe('pass');
    }
  });

  test('RSA-PSS (-keyopt rsa_padding_mode:pss) passes', async () => {
    const sig = opensslSign(dir, alice, content, ['-keyopt', 'rsa_padding_mode:pss']);
    expect(sig.includes(Buffer.from('06092a864886f70d01010a', 'hex'))).toBe(true);
    expect((await verifySignedData({ signedData: sig, content: [content] }, trust())).verdict.result).toBe('pass');
  });

  test('ECDSA P-256 and P-384 and RSA-3072 signers pass', async () => {
    for (const keySpec of ['p256', 'p384', 'rsa3072'] as const) {
      const files = writeSigner(dir, `k-${keySpec}`, await mailbox(pki.ca, { email: `${keySpec}@example.org`, keySpec }), [pki.ca.certificate]);
      const sig = opensslSign(dir, files, content);
      const out = await verifySignedData({ signedData: sig, content: [content] }, trust({ fromAddresses: [`${keySpec}@example.org`] }));
      expect(out.verdict).toMatchObject({ result: 'pass', reason: 'valid' });
    }
  });

  test('RSA-1024 signer key (made by openssl) is policy/weak-key', async () => {
    const files = opensslIssue('weak', 1024, 'keyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\nsubjectAltName=email:weak@example.org\n');
    const out = await verifySignedData({ signedData: opensslSign(dir, files, content), content: [content] }, trust({ at: new Date() }));
    expect(out.verdict).toMatchObject({ result: 'policy', reason: 'weak-key' });
    expect(out.verdict.detail).toContain('1024');
  });

  test('ECDSA brainpoolP256r1 signer (key made by openssl) passes', async () => {
    const files = opensslIssue('brainpool', 'brainpoolP256r1', 'keyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\nsubjectAltName=email:bp@example.org\n');
    const out = await verifySignedData({ signedData: opensslSign(dir, files, content), content: [content] }, trust({ at: new Date(), fromAddresses: ['bp@example.org'] }));
    expect(out.verdict).toMatchObject({ result: 'pass', reason: 'valid' });
  });

  test('signer identified by subjectKeyIdentifier (-keyid) passes', async () => {
    const sig = opensslSign(dir, alice, content, ['-keyid']);
    const out = await verifySignedData({ signedData: sig, content: [content] }, trust());
    expect(out.verdict).toMatchObject({ result: 'pass', reason: 'valid' });
    expect(out.verdict.signer?.emails).toEqual(['alice@example.org']);
  });

  test('intermediate supplied only by the message: passes', async () => {
    const sig = opensslSign(dir, alice, content);
    expect((await verifySignedData({ signedData: sig, content: [content] }, { anchors: pki.anchors, at: AT })).verdict.result).toBe('pass');
  });

  test('intermediate missing from message and anchors: policy/no-path', async () => {
    const sig = opensslSign(dir, alice, content, [], false);
    expect((await verifySignedData({ signedData: sig, content: [content] }, trust())).verdict).toMatchObject({ result: 'policy', reason: 'no-path' });
  });

  test('root only in the message (not configured): policy/untrusted-root', async () => {
    const chain = path.join(dir, 'full-chain.pem');
    writeFileSync(chain, toPem('CERTIFICATE', pki.ca.certificate) + toPem('CERTIFICATE', pki.root.certificate));
    const sig = opensslSign(dir, { ...alice, chain }, content);
    const out = await verifySignedData({ signedData: sig, content: [content] }, { anchors: other.anchors, at: AT });
    expect(out.verdict).toMatchObject({ result: 'policy', reason: 'untrusted-root' });
    // The same message passes where that root is configured.
    expect((await verifySignedData({ signedData: sig, content: [content] }, trust())).verdict.result).toBe('pass');
  });

  test('expired signer at a later verification time: policy/expired', async () => {
    const leaf = await mailbox(pki.ca, { email: 'old@example.org', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-06-01T00:00:00Z') });
    const sig = opensslSign(dir, writeSigner(dir, 'old', leaf, [pki.ca.certificate]), content);
    const out = await verifySignedData({ signedData: sig, content: [content] }, trust());
    expect(out.verdict).toMatchObject({ result: 'policy', reason: 'expired' });
    expect(out.verdict.detail).toContain('old@example.org');
  });

  test('signer not valid at its claimed signingTime: policy/expired-at-signing', async () => {
    // openssl writes the real clock as signingTime; this certificate starts a day later.
    const notBefore = new Date(Date.now() + 86_400_000);
    const leaf = await mailbox(pki.ca, { email: 'early@example.org', notBefore, notAfter: new Date(notBefore.getTime() + 365 * 86_400_000) });
    const sig = opensslSign(dir, writeSigner(dir, 'early', leaf, [pki.ca.certificate]), content);
    const out = await verifySignedData({ signedData: sig, content: [content] }, trust({ at: new Date(notBefore.getTime() + 86_400_000) }));
    expect(out.verdict).toMatchObject({ result: 'policy', reason: 'expired-at-signing' });
  });

  test('extendedKeyUsage without emailProtection: policy/no-email-protection; absent EKU passes', async () => {
    const serverOnly = opensslIssue('server', 2048, 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=email:server@example.org\n');
    const r1 = await verifySignedData({ signedData: opensslSign(dir, serverOnly, content), content: [content] }, trust({ at: new Date() }));
    expect(r1.verdict).toMatchObject({ result: 'policy', reason: 'no-email-protection' });
    const noEku = writeSigner(dir, 'noeku', await mailbox(pki.ca, { email: 'noeku@example.org', withoutEmailProtection: true }), [pki.ca.certificate]);
    const r2 = await verifySignedData({ signedData: opensslSign(dir, noEku, content), content: [content] }, trust());
    expect(r2.verdict.result).toBe('pass');
  });

  test('encrypt-only certificate used to sign: policy/key-usage', async () => {
    const encOnly = writeSigner(dir, 'enc', await mailbox(pki.ca, { email: 'enc@example.org', usage: 'encrypt' }), [pki.ca.certificate]);
    const out = await verifySignedData({ signedData: opensslSign(dir, encOnly, content), content: [content] }, trust());
    expect(out.verdict).toMatchObject({ result: 'policy', reason: 'key-usage' });
  });

  test('two signers: one untrusted, one valid -> pass for the valid one', async () => {
    const stranger = writeSigner(dir, 'stranger', await mailbox(other.ca, { email: 'stranger@example.org' }), [other.ca.certificate]);
    const sig = opensslSign(dir, stranger, content, ['-signer', alice.cert, '-inkey', alice.key, '-certfile', alice.chain]);
    const out = await verifySignedData({ signedData: sig, content: [content] }, trust());
    expect(out.verdict.result).toBe('pass');
    expect(out.verdict.signer?.emails).toEqual(['alice@example.org']);
    const onlyStranger = await verifySignedData({ signedData: sig, content: [content] }, { anchors: [], at: AT });
    expect(onlyStranger.verdict.result).toBe('policy');
  });
});

/** A leaf issued by `openssl x509 -req` under the test CA, with an RSA key of `bits` and the given extensions. */
function opensslIssue(name: string, bits: number | 'brainpoolP256r1', extensions: string): SignerFiles {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const caCert = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca.key');
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(caCert, toPem('CERTIFICATE', pki.ca.certificate));
  writeFileSync(caKey, pki.ca.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(ext, `${extensions}authorityKeyIdentifier=keyid\n`);
  const keygen = typeof bits === 'number' ? ['genrsa', '-out', key, String(bits)] : ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${bits}`, '-pkeyopt', 'ec_param_enc:named_curve', '-out', key];
  execFileSync('openssl', keygen, { stdio: 'pipe' });
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr], { stdio: 'pipe' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(4000 + name.length), '-days', '3650', '-sha256', '-extfile', ext, '-out', cert], { stdio: 'pipe' });
  return { cert, key, chain: caCert };
}

function readDer(pemFile: string): Buffer {
  const text = readFileSync(pemFile, 'latin1');
  return Buffer.from(text.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
