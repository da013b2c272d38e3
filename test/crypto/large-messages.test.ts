/**
 * Messages large enough for the bulk pool, end to end with OpenSSL as the
 * peer. Outbound: a 2.6 MB message through the real outbound pipeline,
 * signed (multipart/signed and opaque) and encrypted (AES-256-CBC and
 * AES-256-GCM): `openssl cms -decrypt` opens it and `openssl cms -verify`
 * accepts the signature inside. Inbound: what `openssl cms -sign` and
 * `openssl cms -encrypt` make of 2.6 MB is verified and decrypted here. In
 * each case the hashing and encryption ran on the pool's workers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bulkPool, closeBulkPool } from '../../src/crypto/bulk-pool.js';
import { loadConfig } from '../../src/config/load.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { openKeystore } from '../../src/keystore/open.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { getHeader, splitHeaderBody } from '../../src/mime/headers.js';
import { harvestedCertificates } from '../../src/pipeline/encryption-lookup.js';
import { contiguous, pipelineMessage } from '../../src/pipeline/message.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { toPem } from '../../src/pki/pem.js';
import { trustStoreFromDer } from '../../src/pki/trust-store.js';
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { verifySignedData } from '../../src/smime/verify-signed-data.js';
import { AT, mailboxCert, testPki, type TestPki } from '../pki/test-pki.js';
import { CAP, correspondent, decryptWith, harvestFrom, openssl, partnerPki, type Correspondent } from '../pipeline/encrypt-fixtures.js';
import { pseudoRandom } from './bulk-data.js';

const SENDER = 'poststelle@stadt.example';
const ATTACHMENT = pseudoRandom(1_900_000, 31).toString('base64').replace(/.{76}/g, '$&\r\n');
const ENTITY =
  'Content-Type: multipart/mixed; boundary="grenze"\r\n\r\n--grenze\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nDer Bescheid liegt bei.\r\n' +
  `--grenze\r\nContent-Type: application/pdf; name="bescheid.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${ATTACHMENT}\r\n--grenze--\r\n`;

function message(to: string): Buffer {
  return Buffer.from(
    `From: <${SENDER}>\r\nTo: <${to}>\r\nSubject: Bescheid\r\nDate: Fri, 01 Jan 2027 00:00:00 +0000\r\nMessage-ID: <large-1@stadt.example>\r\nMIME-Version: 1.0\r\n${ENTITY}`,
    'latin1',
  );
}

let dir: string;
let pki: TestPki;
let rootPem: string;
let keystore: Keystore;
let store: SqliteHarvestedStore;
let cbcPartner: Correspondent;
let gcmPartner: Correspondent;

function config(values: Record<string, unknown> = {}) {
  return loadConfig({ values: { dataDir: path.join(dir, 'data'), trustAnchors: dir, masterKeyFile: path.join(dir, 'master.key'), ...values }, baseDir: dir, env: {} });
}

async function outbound(to: string, values: Record<string, unknown> = {}): Promise<{ output: Buffer; actions: string[] }> {
  const pipeline = createOutboundPipeline({ config: config(values), identities: keystore, encryptionCertificate: harvestedCertificates(store), now: () => AT });
  const result = await pipeline(pipelineMessage({ mailFrom: SENDER, rcptTo: [to] }, message(to)), 'LARGE');
  return { output: contiguous(result.message), actions: result.actions.map((a) => `${a.stage}:${a.action}`) };
}

/** openssl cms -verify at the fixed date against the signer's root; returns the signed content. */
function opensslVerify(signed: Buffer): Buffer {
  const result = openssl(dir, ['cms', '-verify', '-CAfile', rootPem, '-purpose', 'smimesign', '-attime', String(AT.getTime() / 1000)], signed);
  expect(result.stderr).toContain('Verification successful');
  expect(result.status).toBe(0);
  return result.stdout;
}

function contentType(raw: Buffer): string {
  return (getHeader(splitHeaderBody(raw).header, 'content-type') ?? '').replace(/\s+/g, ' ');
}

/** Runs `work` and returns how many jobs the pool's workers completed meanwhile. */
async function poolJobs(work: () => Promise<void>): Promise<number> {
  const before = bulkPool().stats.completed;
  await work();
  return bulkPool().stats.completed - before;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-bulk-'));
  writeFileSync(path.join(dir, 'master.key'), 'b'.repeat(44), { mode: 0o600 });
  pki = await testPki('rsa2048');
  rootPem = path.join(dir, 'signer-root.pem');
  writeFileSync(rootPem, toPem('CERTIFICATE', pki.root.certificate));
  const leaf = await mailboxCert(pki, { email: SENDER });
  keystore = openKeystore(config(), {}, () => AT);
  await keystore.importIdentity({ mailbox: SENDER, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [pki.ca.certificate] }, AT);
  store = SqliteHarvestedStore.open(path.join(dir, 'data'));
  const partner = await partnerPki({ notBefore: new Date('2019-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
  const valid = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') };
  [cbcPartner, gcmPartner] = await Promise.all([
    correspondent(partner, dir, 'rat@partner.example', 'rsa2048', valid),
    correspondent(partner, dir, 'amt@partner.example', 'p256', valid),
  ]);
  await harvestFrom(store, partner, cbcPartner, [CAP.cbc], AT);
  await harvestFrom(store, partner, gcmPartner, [CAP.gcm, CAP.cbc], AT);
});

afterAll(async () => {
  await store.close();
  await keystore.close();
  await closeBulkPool();
  rmSync(dir, { recursive: true, force: true });
});

describe('outbound, 2.6 MB, OpenSSL as the recipient', () => {
  it('signed (multipart/signed): openssl cms -verify accepts it, the signed entity is the message as sent', async () => {
    let output: Buffer = Buffer.alloc(0);
    const jobs = await poolJobs(async () => {
      const result = await outbound('buerger@example.org');
      expect(result.actions).toEqual(['sign:signed', 'encrypt:no-certificate']);
      output = result.output;
    });
    expect(jobs).toBe(1); // the SHA-256 of the entity
    expect(output.length).toBeGreaterThan(2_500_000);
    expect(contentType(output)).toMatch(/^multipart\/signed; protocol="application\/pkcs7-signature"; micalg=sha-256;/);
    expect(opensslVerify(output).toString('latin1')).toBe(ENTITY);
  });

  it('signed opaquely: openssl cms -verify accepts it and returns the entity', async () => {
    let output: Buffer = Buffer.alloc(0);
    const jobs = await poolJobs(async () => {
      const result = await outbound('buerger@example.org', { signing: { mode: 'opaque' } });
      expect(result.actions).toEqual(['sign:signed-opaque', 'encrypt:no-certificate']);
      output = result.output;
    });
    expect(jobs).toBe(1);
    expect(opensslVerify(output).toString('latin1')).toBe(ENTITY);
  });

  it.each([
    ['AES-256-CBC to an RSA key', () => cbcPartner, 'enveloped-data'],
    ['AES-256-GCM to a P-256 key', () => gcmPartner, 'authEnveloped-data'],
  ])('signed and encrypted with %s: openssl cms -decrypt opens it, the signature inside verifies', async (_name, who, smimeType) => {
    const recipient = who();
    let output: Buffer = Buffer.alloc(0);
    const jobs = await poolJobs(async () => {
      const result = await outbound(recipient.address);
      expect(result.actions).toEqual(['sign:signed', 'encrypt:encrypted']);
      output = result.output;
    });
    expect(jobs).toBe(2); // the digest, then the content encryption
    expect(contentType(output)).toBe(`application/pkcs7-mime; smime-type=${smimeType}; name="smime.p7m"`);
    const decrypted = decryptWith(dir, recipient, output);
    expect(decrypted.length).toBeGreaterThan(2_500_000);
    expect(opensslVerify(decrypted).toString('latin1')).toBe(ENTITY);
  });
});

describe('inbound, 2.6 MB made by OpenSSL', () => {
  const content = Buffer.from(ENTITY, 'latin1');

  function signerFiles(): { cert: string; key: string } {
    const cert = path.join(dir, 'signer.pem');
    const key = path.join(dir, 'signer.key');
    return { cert, key };
  }

  beforeAll(async () => {
    const leaf = await mailboxCert(pki, { email: 'alice@partner.example' });
    const { cert, key } = signerFiles();
    writeFileSync(cert, toPem('CERTIFICATE', leaf.certificate));
    writeFileSync(key, leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  });

  it.each([
    ['detached', [] as string[]],
    ['opaque', ['-nodetach']],
  ])('openssl cms -sign (%s): the signature passes here', async (_form, extra) => {
    const { cert, key } = signerFiles();
    const caPem = path.join(dir, 'signer-ca.pem');
    writeFileSync(caPem, toPem('CERTIFICATE', pki.ca.certificate));
    const signed = openssl(dir, ['cms', '-sign', '-binary', '-md', 'sha256', '-signer', cert, '-inkey', key, '-certfile', caPem, '-outform', 'DER', ...extra], content);
    expect(signed.status).toBe(0);
    let outcome: Awaited<ReturnType<typeof verifySignedData>> | undefined;
    const jobs = await poolJobs(async () => {
      outcome = await verifySignedData({ signedData: signed.stdout, content: [content] }, { anchors: trustStoreFromDer([pki.root.certificate]).anchors, at: AT });
    });
    expect(outcome?.verdict).toMatchObject({ result: 'pass', reason: 'valid' });
    expect(jobs).toBe(1);
    if (extra.length > 0) expect(outcome?.embeddedContent?.equals(content)).toBe(true);
  });

  it.each([
    ['AES-256-CBC', '-aes-256-cbc', () => cbcPartner],
    ['AES-256-GCM', '-aes-256-gcm', () => gcmPartner],
  ])('openssl cms -encrypt with %s: decrypted here to the same bytes', async (_name, cipher, who) => {
    const recipient = who();
    const encrypted = openssl(dir, ['cms', '-encrypt', '-binary', cipher, '-outform', 'DER', '-recip', recipient.certFile], content);
    expect(encrypted.status).toBe(0);
    let opened: Awaited<ReturnType<typeof decryptEnvelope>> | undefined;
    const jobs = await poolJobs(async () => {
      opened = await decryptEnvelope(encrypted.stdout, [{ certificate: recipient.issued.certificate, privateKey: recipient.issued.privateKey }]);
    });
    expect(jobs).toBe(1);
    expect(opened?.content.equals(content)).toBe(true);
    expect(opened?.contentEncryption).toBe(cipher.slice(1));
  });

  it('a tampered AES-256-GCM ciphertext is refused as before (one error for every cryptographic failure)', async () => {
    const encrypted = openssl(dir, ['cms', '-encrypt', '-binary', '-aes-256-gcm', '-outform', 'DER', '-recip', gcmPartner.certFile], content);
    expect(encrypted.status).toBe(0);
    // A byte in the middle of the ciphertext: the GCM tag no longer matches.
    const tampered = Buffer.from(encrypted.stdout);
    tampered[Math.floor(tampered.length / 2)] = (tampered[Math.floor(tampered.length / 2)] as number) ^ 0x01;
    await expect(decryptEnvelope(tampered, [{ certificate: gcmPartner.issued.certificate, privateKey: gcmPartner.issued.privateKey }])).rejects.toMatchObject({
      reason: 'decryption-failed',
    });
  });
});
