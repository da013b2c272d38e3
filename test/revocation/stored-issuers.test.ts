/**
 * The issuing CA of an imported or harvested partner certificate survives a
 * restart (siegel.db, issuer_certificates), so `revocation.mode: hard` can
 * check the certificate at the first message after the start: end to end
 * with a partner PKI run by `openssl ca` (root -> issuing CA -> mailboxes),
 * an `openssl ocsp` responder and NO caIssuers URL in any certificate, the
 * real `siegel certs import`, and `siegel serve` started afresh on the data
 * directory. Mail leaves through the submission listener to a fake next
 * hop; what arrives encrypted opens with `openssl cms -decrypt`.
 *
 * The gateway runs in this process: the issuers remembered in memory are
 * module state, so the order of the tests matters. Nothing fills that
 * memory before the gateway's own inbound listener verifies mail (the last
 * test; the harvest tests before it run the inbound pipeline without a
 * revocation checker, which remembers nothing), and the control test shows
 * it: without the stored row the issuer is not found. The encryption
 * tests look each partner CA up for the first time in this process (the
 * revoked certificate shares Alice's CA: that test is about the refusal).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { DatabaseSync } from 'node:sqlite';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { openKeystore } from '../../src/keystore/open.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { SqliteIssuerStore } from '../../src/keystore/sqlite-issuer-store.js';
import { silentLogger } from '../../src/log.js';
import { getHeader, splitHeaderBody } from '../../src/mime/headers.js';
import { createInboundPipeline } from '../../src/pipeline/inbound.js';
import { pipelineMessage } from '../../src/pipeline/message.js';
import { loadConfiguredAnchors } from '../../src/pki/configured-anchors.js';
import { createRootCa, issueMailbox } from '../../src/pki/generate.js';
import { revocationUrls } from '../../src/pki/revocation/certificate-fields.js';
import { siegel } from '../lifecycle/helpers.js';
import { bothListenersYaml } from '../serve/test-gateway.js';
import { captureLogger, sendMail, startFakeNextHop, tempDir, type FakeNextHop } from '../smtp/helpers.js';
import { freePort, OpensslCa, startOcspResponder, TestHttpServer, type IssuedFiles, type Running } from './openssl-pki.js';

const SENDER = 'amt@stadt.example';
/** Enveloped (AES-CBC) for a certificate without announced capabilities, AuthEnveloped (GCM) when the partner announced it. */
const ENCRYPTED = /^application\/pkcs7-mime; smime-type=(authEnveloped|enveloped)-data; name="smime\.p7m"$/;
const ALICE = 'alice@partner.example';
const BOB = 'bob@partner.example';
const CAROL = 'carol@partner.example';
const DAVE = 'dave@partner.example';

let dir: string;
let root: OpensslCa;
let issuing: OpensslCa;
let issuing2: OpensslCa;
let issuing3: OpensslCa;
let responder: Running;
let http: TestHttpServer;
let hop: FakeNextHop;
type Person = 'alice' | 'bob' | 'carol' | 'dave';
const people = {} as Record<Person, IssuedFiles>;

beforeAll(async () => {
  dir = tempDir('siegel-stored-issuers-');
  hop = await startFakeNextHop();
  http = new TestHttpServer();
  await http.start();
  const ocspPort = await freePort();
  root = OpensslCa.root(path.join(dir, 'pki', 'root'), 'Partner Root');
  // The issuing CAs' own status comes from the root's CRL (the inbound path check asks for it).
  issuing = OpensslCa.intermediate(path.join(dir, 'pki', 'issuing'), root, 'Partner Issuing CA', { crl: http.url('/root.crl') });
  issuing2 = OpensslCa.intermediate(path.join(dir, 'pki', 'issuing2'), root, 'Partner Issuing CA 2', { crl: http.url('/root.crl') });
  issuing3 = OpensslCa.intermediate(path.join(dir, 'pki', 'issuing3'), root, 'Partner Issuing CA 3', { crl: http.url('/root.crl') });
  const responderCert = issuing.issue('Partner OCSP Responder', { ocspSigning: true });
  // No caIssuers anywhere: the issuer can only come from the anchors, memory or siegel.db.
  people.alice = issuing.issue('Alice', { email: ALICE, ocsp: `http://127.0.0.1:${ocspPort}/` });
  people.bob = issuing.issue('Bob', { email: BOB, ocsp: `http://127.0.0.1:${ocspPort}/` });
  people.carol = issuing2.issue('Carol', { email: CAROL, crl: http.url('/issuing2.crl') });
  people.dave = issuing3.issue('Dave', { email: DAVE, crl: http.url('/issuing3.crl') });
  issuing.revoke(people.bob, 'keyCompromise');
  const rootCrl = root.crl(24);
  const issuing2Crl = issuing2.crl(24);
  const issuing3Crl = issuing3.crl(24);
  http.serve('/root.crl', () => rootCrl);
  http.serve('/issuing2.crl', () => issuing2Crl);
  http.serve('/issuing3.crl', () => issuing3Crl);
  responder = await startOcspResponder(issuing, responderCert, { port: ocspPort, ndays: 1 });
}, 120_000);

afterAll(async () => {
  await responder?.stop();
  await http?.stop();
  await hop?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface GatewayDir {
  readonly dir: string;
  readonly config: string;
  readonly dataDir: string;
}

/** A gateway directory trusting the partner root, hard-fail revocation, an enrolled sender, both listeners to the fake hop. */
async function gatewayDir(name: string): Promise<GatewayDir> {
  const gw = path.join(dir, name);
  mkdirSync(path.join(gw, 'trust'), { recursive: true });
  writeFileSync(path.join(gw, 'trust', 'partner-root.pem'), readFileSync(root.caPath));
  writeFileSync(path.join(gw, 'master.key'), 'stored-issuers-master-key-0123456789abcdef\n', { mode: 0o600 });
  const config = path.join(gw, 'siegel.yaml');
  writeFileSync(
    config,
    [
      'dataDir: data',
      'trustAnchors: trust',
      'masterKeyFile: master.key',
      'internalDomains: [stadt.example]',
      'authservId: mx.stadt.example',
      ...bothListenersYaml(hop.url),
      'web:',
      '  listen: 127.0.0.1:0',
      'revocation:',
      '  mode: hard',
      '  timeout: 5s',
      '',
    ].join('\n'),
  );
  const loaded = loadConfig({ file: config, env: {} });
  // The sender signs with a certificate from a throw-away root (not under test here).
  const own = await createRootCa({ subject: [['CN', 'Stadt Test Root']], keySpec: 'p256' });
  const leaf = await issueMailbox(own, { subject: [['CN', SENDER]], email: SENDER, keySpec: 'p256' });
  const keystore = openKeystore(loaded, {}, () => new Date());
  await keystore.importIdentity({ mailbox: SENDER, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [] }, new Date());
  await keystore.close();
  return { dir: gw, config, dataDir: loaded.dataDir };
}

/** `siegel certs import ADDR FILE --json` with the certificate, its issuing CA and the root, as a PKI hands them out. */
async function certsImport(gw: GatewayDir, address: string, person: IssuedFiles, ca: OpensslCa) {
  const file = path.join(gw.dir, `${address}.pem`);
  writeFileSync(file, Buffer.concat([readFileSync(person.certPath), readFileSync(ca.caPath), readFileSync(root.caPath)]));
  const result = await siegel(['certs', 'import', address, file, '--json', '--config', gw.config], { now: new Date() });
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  return JSON.parse(result.stdout.toString()) as { action: string; issuers: string[]; issuersNotKept?: string };
}

interface RunningGateway {
  readonly server: ServeHandle;
  readonly lines: () => Record<string, unknown>[];
}

/** `siegel serve` started afresh on the directory (its stores opened anew), logging into memory. */
async function serve(gw: GatewayDir): Promise<RunningGateway> {
  const config = loadConfig({ file: gw.config, env: {} });
  const { logger, lines } = captureLogger();
  const server = await startServer({ config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger, now: () => new Date() });
  return { server, lines };
}

const outbound = (to: string): Buffer =>
  Buffer.from(`From: Amt <${SENDER}>\r\nTo: <${to}>\r\nSubject: Bescheid\r\nMessage-ID: <${to}.${Date.now()}@stadt.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSehr geehrte Damen und Herren,\r\nanbei der Bescheid.\r\n`);

/** Sends one message to `to` through the submission listener; returns what the next hop got. */
async function sendTo(gateway: RunningGateway, to: string): Promise<Buffer> {
  const before = hop.received.length;
  const sent = await sendMail(gateway.server.ports.submission, { from: SENDER, to: [to], raw: outbound(to) });
  expect(sent).toMatchObject({ ok: true, accepted: [to] });
  expect(hop.received).toHaveLength(before + 1);
  return hop.received[before]?.raw ?? Buffer.alloc(0);
}

function contentType(raw: Buffer): string {
  return (getHeader(splitHeaderBody(raw).header, 'content-type') ?? '').replace(/\s+/g, ' ');
}

/** The revocation notes the gateway logged for recipient certificates. */
function revocationNotes(gateway: RunningGateway): string[] {
  return gateway.lines().filter((l) => l.msg === 'recipient certificate revocation').map((l) => String(l.revocation));
}

function opensslDecrypt(raw: Buffer, person: IssuedFiles): string {
  const file = path.join(dir, `in-${Date.now()}-${Math.random().toString(16).slice(2)}.eml`);
  writeFileSync(file, raw);
  return execFileSync('openssl', ['cms', '-decrypt', '-in', file, '-recip', person.certPath, '-inkey', person.keyPath], { stdio: ['ignore', 'pipe', 'pipe'] }).toString('latin1');
}

/** A message signed by `openssl cms` with the person's certificate and its issuing CA (not the root). */
function signedBy(person: IssuedFiles, ca: OpensslCa, from: string): Buffer {
  const entity = path.join(dir, `entity-${Date.now()}-${Math.random().toString(16).slice(2)}.txt`);
  writeFileSync(entity, 'Content-Type: text/plain; charset=us-ascii\r\n\r\nSehr geehrte Damen und Herren,\r\nanbei der Antrag.\r\n');
  return execFileSync('openssl', ['cms', '-sign', '-binary', '-crlfeol', '-in', entity, '-signer', person.certPath, '-inkey', person.keyPath, '-certfile', ca.caPath, '-from', from, '-to', SENDER, '-subject', 'Antrag']);
}

function subjectOf(der: Buffer): string {
  return new X509Certificate(der).subject;
}

let main: GatewayDir;

describe('issuing CAs of partner certificates kept across restarts', () => {
  it('the partner certificates name no caIssuers URL (else the issuer could be fetched)', () => {
    for (const person of Object.values(people)) expect(revocationUrls(person.der).caIssuers).toEqual([]);
    expect(revocationUrls(people.alice.der).ocsp).toHaveLength(1);
  });

  it('`siegel certs import` keeps the issuing CA of the file in siegel.db, not the trust anchor', async () => {
    main = await gatewayDir('main');
    const result = await certsImport(main, ALICE, people.alice, issuing);
    expect(result).toMatchObject({ action: 'added', issuers: ['O=Revocation Test, CN=Partner Issuing CA'] });
    expect(result.issuersNotKept).toBeUndefined();
    const store = SqliteIssuerStore.open(main.dataDir);
    try {
      expect(await store.count()).toBe(1);
      const kept = await store.forSubject(new X509Certificate(people.alice.der).issuer);
      expect(kept.map((der) => der.equals(issuing.der))).toEqual([true]);
      expect(await store.forSubject(subjectOf(root.der))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('control: an import without the stored issuer (as before) is not used under hard-fail: the issuer is not found', async () => {
    const legacy = await gatewayDir('legacy');
    await certsImport(legacy, ALICE, people.alice, issuing);
    // What an import by the previous Siegel left: the certificate without its issuing CA.
    const db = new DatabaseSync(path.join(legacy.dataDir, 'siegel.db'));
    db.exec('DELETE FROM issuer_certificates');
    db.close();
    const gateway = await serve(legacy);
    try {
      const delivered = await sendTo(gateway, ALICE);
      expect(contentType(delivered)).toMatch(/^multipart\/signed;/);
      expect(revocationNotes(gateway)).toEqual([expect.stringMatching(/not used: revocation status could not be checked: the issuer certificate was not found/)]);
    } finally {
      await gateway.server.stop();
    }
  });

  it('a freshly started gateway finds the stored issuer: mail to the imported certificate leaves encrypted (OCSP good)', async () => {
    const gateway = await serve(main);
    try {
      const delivered = await sendTo(gateway, ALICE);
      expect(contentType(delivered)).toMatch(ENCRYPTED);
      expect(opensslDecrypt(delivered, people.alice)).toContain('anbei der Bescheid.');
      expect(revocationNotes(gateway)).toEqual([]);
      const logged = gateway.lines().find((l) => l.msg !== undefined && Array.isArray(l.actions) && (l.actions as string[]).includes('encrypt:encrypted'));
      expect(logged).toBeDefined();
    } finally {
      await gateway.server.stop();
    }
  });

  it('a revoked partner certificate, imported with its chain, is not used after a restart: OCSP says revoked', async () => {
    const result = await certsImport(main, BOB, people.bob, issuing);
    // The same issuing CA: known already, reported as kept.
    expect(result).toMatchObject({ action: 'added', issuers: ['O=Revocation Test, CN=Partner Issuing CA'] });
    const gateway = await serve(main);
    try {
      const delivered = await sendTo(gateway, BOB);
      expect(contentType(delivered)).toMatch(/^multipart\/signed;/);
      expect(revocationNotes(gateway)).toEqual([expect.stringMatching(/^certificate [0-9a-f]{16} not used: revoked on .* \(keyCompromise\), according to OCSP/)]);
    } finally {
      await gateway.server.stop();
    }
  });

  it('harvesting keeps the issuing CA of a verified signer: a gateway started afterwards encrypts to the harvested certificate (CRL good)', async () => {
    // The inbound pipeline without a revocation checker: it verifies and harvests but remembers no issuer in memory,
    // so the issuer the gateway below finds can only come from siegel.db.
    const config = loadConfig({ file: main.config, env: {} });
    const harvested = SqliteHarvestedStore.open(main.dataDir);
    const issuers = SqliteIssuerStore.open(main.dataDir);
    try {
      const pipeline = createInboundPipeline({ config, anchors: () => loadConfiguredAnchors(config, silentLogger()), keys: { decryptionKeys: () => Promise.resolve([]) }, harvested, issuers, now: () => new Date() });
      const result = await pipeline(pipelineMessage({ mailFrom: CAROL, rcptTo: [SENDER] }, signedBy(people.carol, issuing2, CAROL)), 'HARVEST');
      expect(result.message.findings.signatures[0]?.verdict).toMatchObject({ result: 'pass' });
      expect(result.actions.find((a) => a.stage === 'harvest')).toMatchObject({ action: 'stored', detail: { [CAROL]: 'added' } });
      expect((await issuers.forSubject(subjectOf(issuing2.der))).map((der) => der.equals(issuing2.der))).toEqual([true]);
      expect(await issuers.forSubject(subjectOf(root.der))).toEqual([]);
    } finally {
      await issuers.close();
      await harvested.close();
    }
    const gateway = await serve(main);
    try {
      const delivered = await sendTo(gateway, CAROL);
      expect(contentType(delivered)).toMatch(ENCRYPTED);
      expect(opensslDecrypt(delivered, people.carol)).toContain('anbei der Bescheid.');
      expect(revocationNotes(gateway)).toEqual([]);
    } finally {
      await gateway.server.stop();
    }
  });

  it('an issuer store that fails costs the inbound message nothing: the verdict and the harvest stand, the log says so', async () => {
    const config = loadConfig({ file: main.config, env: {} });
    const harvested = SqliteHarvestedStore.open(main.dataDir);
    const broken = SqliteIssuerStore.open(main.dataDir);
    await broken.close();
    try {
      const pipeline = createInboundPipeline({ config, anchors: () => loadConfiguredAnchors(config, silentLogger()), keys: { decryptionKeys: () => Promise.resolve([]) }, harvested, issuers: broken, now: () => new Date() });
      const result = await pipeline(pipelineMessage({ mailFrom: CAROL, rcptTo: [SENDER] }, signedBy(people.carol, issuing2, CAROL)), 'BROKEN');
      expect(result.message.findings.signatures[0]?.verdict).toMatchObject({ result: 'pass' });
      expect(result.actions.find((a) => a.stage === 'harvest')).toMatchObject({
        action: 'unchanged',
        detail: { [CAROL]: 'refreshed', issuers: expect.stringMatching(/^not kept: issuer certificate store is closed/) },
      });
    } finally {
      await harvested.close();
    }
  });

  it('the gateway\'s inbound listener harvests into the same store: the signer\'s issuing CA is kept', async () => {
    const gateway = await serve(main);
    try {
      const before = hop.received.length;
      const sent = await sendMail(gateway.server.ports.inbound, { from: DAVE, to: [SENDER], raw: signedBy(people.dave, issuing3, DAVE) });
      expect(sent).toMatchObject({ ok: true });
      expect(hop.received).toHaveLength(before + 1);
      const logged = gateway.lines().find((l) => Array.isArray(l.actions) && (l.actions as string[]).includes('harvest:stored'));
      expect((logged?.details as Record<string, unknown> | undefined)?.harvest).toEqual({ [DAVE]: 'added' });
    } finally {
      await gateway.server.stop();
    }
    const store = SqliteIssuerStore.open(main.dataDir);
    try {
      expect((await store.forSubject(subjectOf(issuing3.der))).map((der) => der.equals(issuing3.der))).toEqual([true]);
      // The import's issuing CA, the two harvested ones; never a trust anchor.
      expect(await store.count()).toBe(3);
    } finally {
      await store.close();
    }
  });
});
