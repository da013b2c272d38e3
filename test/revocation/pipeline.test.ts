/**
 * Revocation where Siegel relies on certificates, end to end with real
 * peers: mail signed by `openssl cms` through the inbound pipeline (the
 * verdict and its Authentication-Results), and the encrypt stage of the
 * outbound pipeline choosing recipient certificates. The PKI is three
 * levels, run by `openssl ca`: a root (the trust anchor) whose CRL lists a
 * withdrawn intermediate, an issuing CA with a delegated `openssl ocsp`
 * responder, and mailbox certificates.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { EncryptionCertificate } from '../../src/keystore/harvest.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import type { EncryptionCertificateLookup } from '../../src/pipeline/encryption-lookup.js';
import { createInboundPipeline } from '../../src/pipeline/inbound.js';
import { contiguous, pipelineMessage } from '../../src/pipeline/message.js';
import { createEncryptStage } from '../../src/pipeline/stages/encrypt.js';
import { DefaultRevocationChecker } from '../../src/pki/revocation/checker.js';
import { revocationCheckedLookup } from '../../src/pki/revocation/recipient.js';
import { trustStoreFromDer } from '../../src/pki/trust-store.js';
import { freePort, OpensslCa, startOcspResponder, TestHttpServer, type IssuedFiles, type Running } from './openssl-pki.js';

const DAY = 86_400_000;
const SETTINGS = { timeout: 3_000, ocspMaxAge: 7 * DAY, maxCrlSize: 10 * 1024 * 1024 };

let dir: string;
let root: OpensslCa;
let issuing: OpensslCa;
let withdrawn: OpensslCa;
let http: TestHttpServer;
let responder: Running;
let NOW: Date;
const people: Record<string, IssuedFiles> = {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-revocation-'));
  http = new TestHttpServer();
  await http.start();
  const ocspPort = await freePort();
  const downPort = await freePort();
  root = OpensslCa.root(path.join(dir, 'root'), 'Revocation Root');
  issuing = OpensslCa.intermediate(path.join(dir, 'issuing'), root, 'Issuing CA', { crl: http.url('/root.crl') });
  withdrawn = OpensslCa.intermediate(path.join(dir, 'withdrawn'), root, 'Withdrawn CA', { crl: http.url('/root.crl') });
  const responderCert = issuing.issue('Issuing CA OCSP Responder', { ocspSigning: true });
  const mailbox = (email: string, ocsp: string): { email: string; ocsp: string; caIssuers: string } => ({ email, ocsp, caIssuers: http.url('/issuing.der') });
  people.alice = issuing.issue('Alice', mailbox('alice@partner.example', `http://127.0.0.1:${ocspPort}/`));
  people.bob = issuing.issue('Bob', mailbox('bob@partner.example', `http://127.0.0.1:${ocspPort}/`));
  people.erin = issuing.issue('Erin', mailbox('erin@partner.example', `http://127.0.0.1:${downPort}/`));
  people.carol = withdrawn.issue('Carol', { email: 'carol@partner.example' });
  issuing.revoke(people.bob as IssuedFiles, 'keyCompromise');
  root.revoke({ name: 'Withdrawn CA', certPath: path.join(withdrawn.dir, 'ca.pem'), keyPath: withdrawn.keyPath, der: withdrawn.der }, 'cACompromise');
  const rootCrl = root.crl(24);
  http.serve('/root.crl', () => rootCrl);
  http.serve('/issuing.der', () => issuing.der, 'application/pkix-cert');
  responder = await startOcspResponder(issuing, responderCert, { port: ocspPort, ndays: 1 });
  NOW = new Date();
}, 60_000);

afterAll(async () => {
  await responder.stop();
  await http.stop();
  rmSync(dir, { recursive: true, force: true });
});

function config(mode: 'soft' | 'hard') {
  const data = path.join(dir, `data-${mode}`);
  mkdirSync(data, { recursive: true });
  return loadConfig({ values: { dataDir: data, trustAnchors: root.dir, authservId: 'mx.stadt.example', revocation: { mode } }, baseDir: dir, env: {} });
}

describe('outbound: recipient certificates', () => {
  const plain = Buffer.from('From: <poststelle@stadt.example>\r\nTo: <x@partner.example>\r\nSubject: Antwort\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nGuten Tag.\r\n');
  /** The harvested store's answer, as if each person had sent us signed mail. */
  const harvested: EncryptionCertificateLookup = async (address) => {
    const person = Object.values(people).find((p) => p.name.toLowerCase() === address.split('@')[0]);
    if (!person) return undefined;
    const found: EncryptionCertificate = { address, certificate: person.der, fingerprint: person.name, capabilities: [], notAfter: new Date(NOW.getTime() + 300 * DAY) };
    return found;
  };

  async function encryptTo(address: string, mode: 'soft' | 'hard') {
    const c = config(mode);
    const certificateFor = revocationCheckedLookup(harvested, { checker: new DefaultRevocationChecker(SETTINGS), mode, anchors: () => trustStoreFromDer([root.der]).anchors, timeout: SETTINGS.timeout });
    const stage = createEncryptStage({ encryption: c.encryption, limits: c.limits, certificateFor });
    const result = await stage.run({ ...pipelineMessage({ mailFrom: 'poststelle@stadt.example', rcptTo: [address] }, plain), clientSmime: undefined }, { queueId: 'REV', now: () => NOW });
    return result.action;
  }

  test('good (OCSP; issuer fetched from caIssuers): encrypted', async () => {
    const action = await encryptTo('alice@partner.example', 'hard');
    expect(action.action).toBe('encrypted');
    expect(action.detail?.revocation).toBeUndefined();
    expect(http.requests).toContain('/issuing.der');
  });

  test('revoked: never used, the stage says why', async () => {
    const action = await encryptTo('bob@partner.example', 'soft');
    expect(action).toMatchObject({ action: 'no-certificate', detail: { without: 1 } });
    expect(String(action.detail?.revocation)).toMatch(/^bob@partner\.example: certificate Bob not used: revoked on .* \(keyCompromise\), according to OCSP/);
  });

  test('responder unreachable: not used under hard-fail, used under soft-fail with a note', async () => {
    const hard = await encryptTo('erin@partner.example', 'hard');
    expect(hard.action).toBe('no-certificate');
    expect(String(hard.detail?.revocation)).toContain('not used: revocation status could not be checked');
    const soft = await encryptTo('erin@partner.example', 'soft');
    expect(soft.action).toBe('encrypted');
    expect(String(soft.detail?.revocation)).toContain('used, revocation status could not be checked');
  });
});

describe('inbound: signers', () => {
  let scratch = 0;
  function signedBy(person: IssuedFiles, chain: OpensslCa): Buffer {
    const entity = path.join(dir, `entity-${++scratch}`);
    writeFileSync(entity, 'Content-Type: text/plain; charset=us-ascii\r\n\r\nSehr geehrte Damen und Herren,\r\nanbei der Antrag.\r\n');
    const email = person.name.toLowerCase() + '@partner.example';
    return execFileSync('openssl', ['cms', '-sign', '-binary', '-crlfeol', '-in', entity, '-signer', person.certPath, '-inkey', person.keyPath, '-certfile', chain.caPath, '-from', email, '-to', 'poststelle@stadt.example', '-subject', 'Antrag']);
  }

  async function receive(message: Buffer, mode: 'soft' | 'hard') {
    const c = config(mode);
    const harvested = SqliteHarvestedStore.open(c.dataDir);
    try {
      const pipeline = createInboundPipeline({
        config: c,
        anchors: () => trustStoreFromDer([root.der]).anchors,
        keys: { decryptionKeys: () => Promise.resolve([]) },
        harvested,
        now: () => NOW,
        revocation: new DefaultRevocationChecker(SETTINGS),
      });
      const result = await pipeline(pipelineMessage({ mailFrom: 'x@partner.example', rcptTo: ['poststelle@stadt.example'] }, message), 'REV');
      const verdict = result.message.findings.signatures[0]?.verdict;
      const header = /^Authentication-Results: mx\.stadt\.example;[^]*?\r\n(?![ \t])/m.exec(contiguous(result.message).toString('latin1'))?.[0] ?? '';
      return { verdict, header: header.replace(/\r\n[ \t]+/g, ' ') };
    } finally {
      await harvested.close();
    }
  }

  test('good: pass, the path checked (OCSP for the mailbox, the root CRL for the issuing CA)', async () => {
    const { verdict, header } = await receive(signedBy(people.alice as IssuedFiles, issuing), 'hard');
    expect(verdict).toMatchObject({ result: 'pass', reason: 'valid' });
    expect(verdict?.detail).toContain('(not revoked)');
    expect(header).toContain('smime=pass');
  });

  test('revoked signer: fail with the reason, the certificate, the date', async () => {
    const { verdict, header } = await receive(signedBy(people.bob as IssuedFiles, issuing), 'soft');
    expect(verdict).toMatchObject({ result: 'fail', reason: 'revoked' });
    expect(verdict?.detail).toMatch(/^the signature is valid, but "O=Revocation Test, CN=Bob" was revoked on \d{4}-\d\d-\d\dT.* \(keyCompromise\), according to OCSP/);
    expect(header).toContain('smime=fail');
  });

  test('revoked intermediate CA (on the root CRL): fail naming the CA', async () => {
    const { verdict } = await receive(signedBy(people.carol as IssuedFiles, withdrawn), 'soft');
    expect(verdict).toMatchObject({ result: 'fail', reason: 'revoked' });
    expect(verdict?.detail).toMatch(/"O=Revocation Test, CN=Withdrawn CA" was revoked on .* \(cACompromise\), according to CRL/);
  });

  test('unreachable responder: soft-fail keeps pass and says so; hard-fail gives temperror', async () => {
    const message = signedBy(people.erin as IssuedFiles, issuing);
    const soft = await receive(message, 'soft');
    expect(soft.verdict).toMatchObject({ result: 'pass', reason: 'valid' });
    expect(soft.verdict?.detail).toMatch(/revocation status could not be checked: "O=Revocation Test, CN=Erin": OCSP responder .* cannot be reached/);
    const hard = await receive(message, 'hard');
    expect(hard.verdict).toMatchObject({ result: 'temperror', reason: 'revocation-unavailable' });
    expect(hard.header).toContain('smime=temperror');
  });
});
