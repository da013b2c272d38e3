/**
 * Reply encryption in the outbound pipeline and in `siegel outbound`, with
 * certificates harvested into the real sqlite store and OpenSSL as the
 * correspondent: it opens the envelope with the correspondent's key, names
 * the algorithms, and verifies the signature inside against the signer's
 * root. Fixed clock (AT); OpenSSL verifies at AT too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { outboundFilter } from '../../src/commands/outbound.js';
import { loadConfig } from '../../src/config/load.js';
import { SiegelError, smtpReplyFor } from '../../src/errors.js';
import { lookupEncryptionCertificate } from '../../src/keystore/harvest.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { openKeystore } from '../../src/keystore/open.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { silentLogger } from '../../src/log.js';
import { getHeader, splitFields, splitHeaderBody } from '../../src/mime/headers.js';
import { harvestedCertificates, type EncryptionCertificateLookup } from '../../src/pipeline/encryption-lookup.js';
import { contiguous, pipelineMessage } from '../../src/pipeline/message.js';
import { createOutboundPipeline, outboundRecipientGroup } from '../../src/pipeline/outbound.js';
import { toPem } from '../../src/pki/pem.js';
import { AT, mailboxCert, testPki } from '../pki/test-pki.js';
import { algorithms, CAP, correspondent, decryptWith, harvestFrom, openssl, partnerPki, printCms, type Correspondent, type PartnerPki } from './encrypt-fixtures.js';

const sender = 'poststelle@stadt.example';
const BODY = 'Sehr geehrte Damen und Herren,\r\n\r\nanbei die Antwort auf Ihre Anfrage.\r\n';
const ENTITY = `Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${BODY}`;

function message(from: string, to: readonly string[], entity = ENTITY): Buffer {
  return Buffer.from(
    `From: <${from}>\r\nTo: ${to.join(', ')}\r\nSubject: Ihre Anfrage\r\nDate: Fri, 01 Jan 2027 00:00:00 +0000\r\n` +
      `Message-ID: <reply-1@stadt.example>\r\nMIME-Version: 1.0\r\n${entity}`,
    'utf8',
  );
}

let dir: string;
let rootPem: string;
let keystore: Keystore;
let store: SqliteHarvestedStore;
let partner: PartnerPki;
let rsaPlain: Correspondent;
let rsaModern: Correspondent;
let ecModern: Correspondent;
let ecPlain: Correspondent;
let expired: Correspondent;

function config(values: Record<string, unknown> = {}) {
  return loadConfig({ values: { dataDir: path.join(dir, 'data'), trustAnchors: dir, masterKeyFile: path.join(dir, 'master.key'), ...values }, baseDir: dir, env: {} });
}

function pipelineWith(values: Record<string, unknown> = {}, lookup: EncryptionCertificateLookup = harvestedCertificates(store)) {
  return createOutboundPipeline({ config: config(values), identities: keystore, encryptionCertificate: lookup, now: () => AT });
}

async function run(input: Buffer, rcptTo: readonly string[], values: Record<string, unknown> = {}, mailFrom = sender) {
  const result = await pipelineWith(values)(pipelineMessage({ mailFrom, rcptTo }, input), 'ENC');
  return { output: contiguous(result.message), actions: result.actions };
}

function contentType(raw: Buffer): string {
  return (getHeader(splitHeaderBody(raw).header, 'content-type') ?? '').replace(/\s+/g, ' ');
}

/** openssl cms -verify of the decrypted message at the fixed date; returns the signed entity. */
function verifySigned(decrypted: Buffer): Buffer {
  const result = openssl(dir, ['cms', '-verify', '-CAfile', rootPem, '-purpose', 'smimesign', '-attime', String(AT.getTime() / 1000)], decrypted);
  expect(result.stderr).toContain('Verification successful');
  expect(result.status).toBe(0);
  return result.stdout;
}

function nonContentFields(raw: Buffer): string[] {
  return splitFields(splitHeaderBody(raw).header)
    .filter((f) => !f.name.toLowerCase().startsWith('content-'))
    .map((f) => f.raw.toString('latin1'));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-encrypt-'));
  writeFileSync(path.join(dir, 'master.key'), 'e'.repeat(44), { mode: 0o600 });
  const pki = await testPki('rsa2048');
  rootPem = path.join(dir, 'signer-root.pem');
  writeFileSync(rootPem, toPem('CERTIFICATE', pki.root.certificate));
  const leaf = await mailboxCert(pki, { email: sender });
  keystore = openKeystore(config(), {}, () => AT);
  await keystore.importIdentity({ mailbox: sender, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [pki.ca.certificate] }, AT);

  store = SqliteHarvestedStore.open(path.join(dir, 'data'));
  partner = await partnerPki({ notBefore: new Date('2019-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
  const valid = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') };
  [rsaPlain, rsaModern, ecModern, ecPlain, expired] = await Promise.all([
    correspondent(partner, dir, 'rat@partner.example', 'rsa2048', valid),
    correspondent(partner, dir, 'amt@partner.example', 'rsa2048', valid),
    correspondent(partner, dir, 'ec@partner.example', 'p256', valid),
    correspondent(partner, dir, 'ec-cbc@partner.example', 'p256', valid),
    correspondent(partner, dir, 'alt@partner.example', 'p256', { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2022-01-01T00:00:00Z') }),
  ]);
  await harvestFrom(store, partner, rsaPlain, [CAP.cbc], AT);
  await harvestFrom(store, partner, rsaModern, [CAP.gcm, CAP.cbc, CAP.oaep], AT);
  await harvestFrom(store, partner, ecModern, [CAP.gcm, CAP.cbc], AT);
  await harvestFrom(store, partner, ecPlain, [CAP.cbc], AT);
  // Harvested while it was valid; expired by AT.
  await harvestFrom(store, partner, expired, [CAP.gcm], new Date('2021-06-01T00:00:00Z'));
});

afterAll(async () => {
  await store.close();
  await keystore.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a signed reply to one correspondent with a harvested certificate', () => {
  const cases: ReadonlyArray<[string, () => Correspondent, string, string, string, Record<string, string | number>]> = [
    ['RSA without capabilities: PKCS#1 v1.5, AES-256-CBC', () => rsaPlain, 'enveloped-data', 'aes-256-cbc', 'rsaEncryption', { content: 'aes-256-cbc', 'rsa-pkcs1': 1 }],
    ['RSA advertising GCM and OAEP: RSAES-OAEP, AES-256-GCM', () => rsaModern, 'authEnveloped-data', 'aes-256-gcm', 'rsaesOaep', { content: 'aes-256-gcm', 'rsa-oaep': 1 }],
    ['P-256 advertising GCM: ECDH, AES-256-GCM', () => ecModern, 'authEnveloped-data', 'aes-256-gcm', 'dhSinglePass-stdDH-sha256kdf-scheme', { content: 'aes-256-gcm', ecdh: 1 }],
    ['P-256 without GCM: ECDH, AES-256-CBC', () => ecPlain, 'enveloped-data', 'aes-256-cbc', 'dhSinglePass-stdDH-sha256kdf-scheme', { content: 'aes-256-cbc', ecdh: 1 }],
  ];

  it.each(cases)('%s: openssl opens it with the key and the signature inside verifies', async (_name, who, smimeType, content, keyManagement, detail) => {
    const recipient = who();
    const input = message(sender, [recipient.address]);
    const { output, actions } = await run(input, [recipient.address]);
    expect(actions.map((a) => `${a.stage}:${a.action}`)).toEqual(['sign:signed', 'encrypt:encrypted']);
    expect(actions[1]?.detail).toEqual({ recipients: 1, ...detail });

    expect(contentType(output)).toBe(`application/pkcs7-mime; smime-type=${smimeType}; name="smime.p7m"`);
    // From, To, Subject, Date, Message-ID, MIME-Version stay readable outside, as the client wrote them.
    expect(nonContentFields(output)).toEqual(nonContentFields(input));
    expect(output.every((b) => b < 0x80)).toBe(true);

    const printed = algorithms(printCms(dir, output));
    expect(printed).toEqual({ content, keyManagement: [keyManagement] });

    const decrypted = decryptWith(dir, recipient, output);
    expect(contentType(decrypted)).toMatch(/^multipart\/signed; protocol="application\/pkcs7-signature"; micalg=sha-256;/);
    expect(verifySigned(decrypted).toString('latin1')).toBe(ENTITY);
  });

  it('does not open with another correspondent\'s key', async () => {
    const { output } = await run(message(sender, [rsaPlain.address]), [rsaPlain.address]);
    expect(() => decryptWith(dir, rsaModern, output)).toThrow(/exited [1-9]/);
  });

  it('signed opaquely for the correspondent, the signed-data is encrypted the same way', async () => {
    const { output, actions } = await run(message(sender, [ecModern.address]), [ecModern.address], { signing: { opaqueFor: ['partner.example'] } });
    expect(actions.map((a) => `${a.stage}:${a.action}`)).toEqual(['sign:signed-opaque', 'encrypt:encrypted']);
    const decrypted = decryptWith(dir, ecModern, output);
    expect(contentType(decrypted)).toMatch(/^application\/pkcs7-mime; smime-type=signed-data;/);
    expect(verifySigned(decrypted).toString('latin1')).toBe(ENTITY);
  });

  it('a 3 MB attachment arriving in many chunks comes out whole', async () => {
    const attachment = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < attachment.length; i++) attachment[i] = (i * 131 + 17) % 251;
    const base64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
    const entity =
      'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSiehe Anhang.\r\n' +
      `--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64}\r\n--b1--\r\n`;
    const input = message(sender, [rsaModern.address], entity);
    const chunks: Buffer[] = [];
    for (let at = 0; at < input.length; at += 100_000) chunks.push(input.subarray(at, at + 100_000));
    const result = await pipelineWith()(pipelineMessage({ mailFrom: sender, rcptTo: [rsaModern.address] }, chunks), 'BIG');
    expect(result.actions.map((a) => a.action)).toEqual(['signed', 'encrypted']);
    const signed = verifySigned(decryptWith(dir, rsaModern, contiguous(result.message)));
    expect(signed.toString('latin1')).toBe(entity);
  });
});

describe('several recipients', () => {
  it('all with certificates: one envelope every one of them opens; GCM because all advertise it', async () => {
    const to = [rsaModern.address, ecModern.address];
    const { output, actions } = await run(message(sender, to), to);
    expect(actions[1]).toEqual({ stage: 'encrypt', action: 'encrypted', detail: { content: 'aes-256-gcm', recipients: 2, 'rsa-oaep': 1, ecdh: 1 } });
    expect(algorithms(printCms(dir, output))).toEqual({ content: 'aes-256-gcm', keyManagement: ['rsaesOaep', 'dhSinglePass-stdDH-sha256kdf-scheme'] });
    for (const who of [rsaModern, ecModern]) expect(verifySigned(decryptWith(dir, who, output)).toString('latin1')).toBe(ENTITY);
  });

  it('one of them without GCM: AES-256-CBC for all, each with its own key management', async () => {
    const to = [rsaPlain.address, ecModern.address];
    const { output } = await run(message(sender, to), to);
    expect(contentType(output)).toMatch(/smime-type=enveloped-data;/);
    expect(algorithms(printCms(dir, output))).toEqual({ content: 'aes-256-cbc', keyManagement: ['rsaEncryption', 'dhSinglePass-stdDH-sha256kdf-scheme'] });
    for (const who of [rsaPlain, ecModern]) expect(verifySigned(decryptWith(dir, who, output)).toString('latin1')).toBe(ENTITY);
  });

  it('one with and one without a certificate: signed, not encrypted, and the log says why', async () => {
    const to = [rsaModern.address, 'neu@elsewhere.example'];
    const { output, actions } = await run(message(sender, to), to);
    expect(actions[1]).toEqual({ stage: 'encrypt', action: 'no-certificate', detail: { without: 1, recipients: 2 } });
    expect(contentType(output)).toMatch(/^multipart\/signed;/);
    expect(verifySigned(output).toString('latin1')).toBe(ENTITY);
  });
});

describe('policy', () => {
  it('encryption.contentEncryption cbc and gcm override the capabilities', async () => {
    const forcedCbc = await run(message(sender, [rsaModern.address]), [rsaModern.address], { encryption: { contentEncryption: 'cbc' } });
    expect(algorithms(printCms(dir, forcedCbc.output))).toEqual({ content: 'aes-256-cbc', keyManagement: ['rsaesOaep'] });
    expect(forcedCbc.actions[1]?.detail).toEqual({ content: 'aes-256-cbc', recipients: 1, 'rsa-oaep': 1 });

    const forcedGcm = await run(message(sender, [rsaPlain.address]), [rsaPlain.address], { encryption: { contentEncryption: 'gcm' } });
    expect(algorithms(printCms(dir, forcedGcm.output))).toEqual({ content: 'aes-256-gcm', keyManagement: ['rsaEncryption'] });
    expect(verifySigned(decryptWith(dir, rsaPlain, forcedGcm.output)).toString('latin1')).toBe(ENTITY);
  });

  it('encryption.enabled false: signed only', async () => {
    const { output, actions } = await run(message(sender, [rsaPlain.address]), [rsaPlain.address], { encryption: { enabled: false } });
    expect(actions.map((a) => `${a.stage}:${a.action}`)).toEqual(['sign:signed', 'encrypt:disabled']);
    expect(contentType(output)).toMatch(/^multipart\/signed;/);
  });

  it('an expired harvested certificate is not used', async () => {
    expect(await lookupEncryptionCertificate(store, expired.address, new Date('2021-06-02T00:00:00Z'))).toBeDefined();
    const { output, actions } = await run(message(sender, [expired.address]), [expired.address]);
    expect(actions[1]).toEqual({ stage: 'encrypt', action: 'no-certificate', detail: { without: 1, recipients: 1 } });
    expect(contentType(output)).toMatch(/^multipart\/signed;/);
  });
});

describe('mail the sender did not sign here', () => {
  it('from a sender without identity: encrypted, the content canonical (7-bit, CRLF) inside', async () => {
    const input = Buffer.from(
      'From: <buerger-service@stadt.example>\nTo: <ec@partner.example>\nSubject: Termin\nMIME-Version: 1.0\n' +
        'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nDie Pläne liegen bei.\n',
      'utf8',
    );
    const { output, actions } = await run(input, [ecModern.address], {}, 'buerger-service@stadt.example');
    expect(actions.map((a) => `${a.stage}:${a.action}`)).toEqual(['sign:no-identity', 'encrypt:encrypted']);
    expect(contentType(output)).toMatch(/smime-type=authEnveloped-data;/);
    expect(nonContentFields(output)).toEqual(['From: <buerger-service@stadt.example>\r\n', 'To: <ec@partner.example>\r\n', 'Subject: Termin\r\n', 'MIME-Version: 1.0\r\n']);
    const decrypted = decryptWith(dir, ecModern, output);
    expect(decrypted.toString('latin1')).toBe('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nDie Pl=C3=A4ne liegen bei.\r\n');
  });

  it('signed by the client: left exactly as it came, even when every certificate is known', async () => {
    const clientSigned = (await run(message(sender, [rsaPlain.address]), ['x@elsewhere.example'])).output;
    expect(contentType(clientSigned)).toMatch(/^multipart\/signed;/);
    const again = await run(clientSigned, [rsaPlain.address]);
    expect(again.actions.map((a) => `${a.stage}:${a.action}`)).toEqual(['sign:client-smime', 'encrypt:client-smime']);
    expect(again.actions[1]?.detail).toEqual({ form: 'signed' });
    expect(again.output.equals(clientSigned)).toBe(true);

    // Known from the input, not from the signing stage: also when signing is off.
    const unsignedHere = await run(clientSigned, [rsaPlain.address], { signing: { enabled: false } });
    expect(unsignedHere.actions.map((a) => `${a.stage}:${a.action}`)).toEqual(['sign:disabled', 'encrypt:client-smime']);
    expect(unsignedHere.output.equals(clientSigned)).toBe(true);
  });

  it('encrypted by the client: left exactly as it came', async () => {
    const clientEncrypted = (await run(message(sender, [rsaPlain.address]), [rsaPlain.address])).output;
    const again = await run(clientEncrypted, [rsaPlain.address, ecModern.address]);
    expect(again.actions[1]).toEqual({ stage: 'encrypt', action: 'client-smime', detail: { form: 'enveloped' } });
    expect(again.output.equals(clientEncrypted)).toBe(true);
  });
});

describe('failures', () => {
  it('a certificate that must not be encrypted to: 451 4.7.0, nothing written', async () => {
    const signOnly = await correspondent(partner, dir, 'sign-only@partner.example', 'rsa2048', { usage: 'sign' });
    const lookup: EncryptionCertificateLookup = (address) =>
      Promise.resolve({ address, certificate: signOnly.issued.certificate, fingerprint: 'f'.repeat(64), capabilities: [], notAfter: new Date('2030-01-01T00:00:00Z') });
    const pipeline = pipelineWith({}, lookup);
    const failure = await pipeline(pipelineMessage({ mailFrom: sender, rcptTo: [signOnly.address] }, message(sender, [signOnly.address])), 'FAIL').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(SiegelError);
    expect((failure as SiegelError).code).toBe('ENCRYPTION_FAILED');
    expect((failure as SiegelError).message).toMatch(/^cannot encrypt to sign-only@partner\.example: .*does not allow key encipherment/);
    expect(smtpReplyFor(failure)).toEqual({ code: 451, enhanced: '4.7.0', text: 'Message could not be encrypted, try again later' });
  });
});

describe('recipient groups for the SMTP edge', () => {
  it('tells recipients with a usable certificate from those without, with the signature form in front', async () => {
    let lookups = 0;
    const counting: EncryptionCertificateLookup = (address, at) => {
      lookups++;
      return harvestedCertificates(store)(address, at);
    };
    const group = outboundRecipientGroup(config({ signing: { opaqueFor: ['elsewhere.example'] } }), counting, () => AT);
    expect(await group(sender, rsaPlain.address)).toBe('multipart:encrypt');
    expect(await group(sender, 'EC@Partner.Example')).toBe('multipart:encrypt');
    expect(await group(sender, expired.address)).toBe('multipart:plain');
    expect(await group(sender, 'neu@partner.example')).toBe('multipart:plain');
    expect(await group(sender, 'x@elsewhere.example')).toBe('opaque:plain');
    expect(lookups).toBe(5);

    const disabled = outboundRecipientGroup(config({ encryption: { enabled: false } }), counting, () => AT);
    expect(await disabled(sender, rsaPlain.address)).toBe('multipart:plain');
    expect(await disabled(sender, 'neu@partner.example')).toBe('multipart:plain');
    expect(lookups).toBe(5);
  });
});

describe('siegel outbound', () => {
  it('after a verified message from a correspondent, the reply to it leaves encrypted and signed', async () => {
    const out: Buffer[] = [];
    const err: string[] = [];
    const stdin = new PassThrough();
    stdin.end(message(sender, [rsaModern.address]));
    const code = await outboundFilter(
      {
        config: config(),
        stdin,
        stdout: new Writable({ write: (chunk: Buffer, _e, done) => (out.push(chunk), done()) }),
        stderr: new Writable({ write: (chunk: Buffer, _e, done) => (err.push(chunk.toString()), done()) }),
        env: {},
        logger: silentLogger(),
        now: () => AT,
      },
      {},
    );
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    const output = Buffer.concat(out);
    expect(contentType(output)).toMatch(/^application\/pkcs7-mime; smime-type=authEnveloped-data;/);
    expect(algorithms(printCms(dir, output))).toEqual({ content: 'aes-256-gcm', keyManagement: ['rsaesOaep'] });
    expect(verifySigned(decryptWith(dir, rsaModern, output)).toString('latin1')).toBe(ENTITY);
  });
});
