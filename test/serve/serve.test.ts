/**
 * `siegel serve` end to end: the real gateway (config file, keystore,
 * outbound pipeline, submission listener) between a real client (swaks,
 * nodemailer) and a real next hop on 127.0.0.1. What leaves is signed and
 * verifies with OpenSSL; the client gets 250 only after the next hop took
 * the message, and the next hop's refusals otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { openKeystore } from '../../src/keystore/open.js';
import { createLogger } from '../../src/log.js';
import { createRootCa, issueCa, issueMailbox, type Issued } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { waitForPort } from '../faults/siegel-process.js';
import { createPeers, type Peers } from '../peers/verifiers.js';
import { splitMultipartSigned } from '../peers/smime-parts.js';
import { closedPort, sampleMessage, sendMail, splitTrace, startFakeNextHop, tempDir, tlsFiles, type FakeNextHop, type TlsFiles } from '../smtp/helpers.js';

const mailbox = 'poststelle@stadt.example';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let dir: string;
let hop: FakeNextHop;
let server: ServeHandle;
let peers: Peers;
let tls: TlsFiles;
let logs: PassThrough;
let logText = '';
let rootCa: Issued;
let issuing: Issued;

function configYaml(relay: string, extra = ''): string {
  return [
    'dataDir: data',
    'trustAnchors: trust',
    'masterKeyFile: master.key',
    'hostname: gateway.test',
    'smtp:',
    '  submission:',
    '    listen: 127.0.0.1:0',
    `    relay: ${relay}`,
    '    maxMessageSize: 200KB',
    '    nextHop: { timeout: 15s }',
    `    tls: { cert: ${tls.cert}, key: ${tls.key} }`,
    '  inbound:',
    '    listen: 127.0.0.1:0',
    'web:',
    '  listen: 127.0.0.1:0',
    extra,
  ].join('\n');
}

async function start(configFile: string): Promise<ServeHandle> {
  const config = loadConfig({ file: configFile, env: {} });
  logs = new PassThrough();
  logs.on('data', (d: Buffer) => (logText += d.toString()));
  return startServer({
    config,
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: logs,
    env: {},
    logger: createLogger('info', logs),
    now: () => new Date(),
  });
}

/** Runs swaks without blocking this process (the gateway under test runs in it). */
function swaks(port: number, args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('swaks', ['--server', `127.0.0.1:${port}`, '--from', mailbox, '--to', 'buerger@example.org', ...args]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill(), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
  });
}

beforeAll(async () => {
  dir = tempDir('siegel-serve-');
  tls = await tlsFiles();
  hop = await startFakeNextHop();
  rootCa = await createRootCa({ subject: [['C', 'DE'], ['O', 'Test-PKI'], ['CN', 'Test Root']], keySpec: 'rsa3072' });
  issuing = await issueCa(rootCa, { subject: [['C', 'DE'], ['O', 'Test-PKI'], ['CN', 'Test Issuing CA']], keySpec: 'rsa3072' });
  const signing = await issueMailbox(issuing, { subject: [['C', 'DE'], ['O', 'Stadt'], ['CN', 'Poststelle']], email: mailbox, keySpec: 'rsa3072', usage: 'sign' });
  const encryption = await issueMailbox(issuing, { subject: [['C', 'DE'], ['O', 'Stadt'], ['CN', 'Poststelle']], email: mailbox, keySpec: 'rsa3072', usage: 'encrypt' });
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'trust', 'root.pem'), toPem('CERTIFICATE', rootCa.certificate));
  writeFileSync(path.join(dir, 'master.key'), 'm'.repeat(44), { mode: 0o600 });
  const configFile = path.join(dir, 'siegel.yaml');
  writeFileSync(configFile, configYaml(hop.url));
  const config = loadConfig({ file: configFile, env: {} });
  const keystore = openKeystore(config, {}, () => new Date());
  for (const issued of [signing, encryption]) {
    await keystore.importIdentity({ mailbox, privateKey: issued.privateKey, certificate: issued.certificate, chain: [issuing.certificate] }, new Date());
  }
  await keystore.close();
  server = await start(configFile);
  peers = createPeers(rootCa.certificate);
});

afterAll(async () => {
  await server?.stop();
  await hop?.stop();
  peers?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  hop.mode = 'accept';
  hop.received.length = 0;
});

describe('siegel serve', () => {
  it('signs mail from an enrolled mailbox sent with swaks over STARTTLS; the next hop gets a signature OpenSSL, gpgsm and NSS accept', async () => {
    const result = await swaks(server.ports.submission, ['--tls', '--header', 'Subject: Bescheid über Ihren Antrag', '--body', 'Sehr geehrte Frau Müller,\n\nanbei der Bescheid.\n']);
    // swaks marks replies read over TLS with <~.
    expect(result.out).toContain('=== TLS started');
    expect(result.out).toMatch(/<~ +250 2\.0\.0 Ok: queued as [0-9A-F]+/);
    expect(result.status).toBe(0);
    expect(hop.received).toHaveLength(1);
    const delivered = hop.received[0]?.raw ?? Buffer.alloc(0);
    expect(hop.received[0]?.rcptTo).toEqual(['buerger@example.org']);
    const openssl = peers.openssl(delivered);
    expect(openssl.stderr).toContain('Verification successful');
    expect(openssl.output.toString()).toContain('anbei der Bescheid.');
    const parts = splitMultipartSigned(delivered);
    expect(peers.gpgsm(parts.signature, parts.entity).stdout).toMatch(/^\[GNUPG:\] GOODSIG /m);
    expect(peers.nss(parts.signature, parts.entity).stdout).toContain('signer0.status=GoodSignature');
    // Both the signing and the encryption certificate travel with the signature (partners encrypt replies to the latter).
    const certs = spawnSync('openssl', ['pkcs7', '-inform', 'DER', '-print_certs', '-noout'], { input: parts.signature }).stdout.toString();
    expect(certs.match(/subject=.*CN ?= ?Poststelle/g)).toHaveLength(2);
    expect(certs).toContain('Test Issuing CA');
    expect(certs).not.toMatch(/subject=.*CN ?= ?Test Root/);
    // One log line for the message, without its content.
    // offload:none: the large-file exchange runs first and had nothing to do (no attachment above the threshold).
    expect(logText).toContain('"actions":["offload:none","sign:signed","encrypt:no-certificate"]');
    expect(logText).toContain(`"details":{"sign":{"signer":"${mailbox}","converted":true},"encrypt":{"without":1,"recipients":1}}`);
    expect(logText).not.toContain('anbei der Bescheid');
  });

  it('relays mail from a sender without a certificate unchanged', async () => {
    const raw = sampleMessage();
    const outcome = await sendMail(server.ports.submission, { from: 'niemand@stadt.example', raw });
    expect(outcome.ok).toBe(true);
    expect(splitTrace(hop.received[0]!.raw).rest.equals(raw)).toBe(true);
  });

  it('answers 4xx and keeps nothing when the next hop is down', async () => {
    const configFile = path.join(dir, 'down.yaml');
    writeFileSync(configFile, configYaml(`smtp://127.0.0.1:${await closedPort()}`));
    const down = await start(configFile);
    try {
      const outcome = await sendMail(down.ports.submission, { from: mailbox });
      expect(outcome.ok).toBe(false);
      expect(outcome.response).toMatch(/^451 4\.4\.1/);
    } finally {
      await down.stop();
    }
  });

  it('mirrors a temporary refusal of the next hop', async () => {
    hop.mode = 'tempfail';
    const outcome = await sendMail(server.ports.submission, { from: mailbox });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^4\d\d /);
    expect(hop.received).toHaveLength(0);
  });

  it('mirrors a permanent refusal of the next hop', async () => {
    hop.mode = 'permfail';
    const outcome = await sendMail(server.ports.submission, { from: mailbox });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^5\d\d /);
    expect(hop.received).toHaveLength(0);
  });

  it('gives no 250 when the next hop drops the connection during DATA', async () => {
    hop.mode = 'drop';
    const outcome = await sendMail(server.ports.submission, { from: mailbox });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^4\d\d /);
    expect(hop.received).toHaveLength(0);
  });

  it('refuses an oversized message with 552 and relays nothing', async () => {
    const body = path.join(dir, 'big-body.txt');
    writeFileSync(body, `${'x'.repeat(76)}\n`.repeat(4000));
    const result = await swaks(server.ports.submission, ['--body', `@${body}`]);
    expect(result.out).toMatch(/<\*\* +552 5\.3\.4/);
    expect(hop.received).toHaveLength(0);
  });
});

describe('siegel serve as a process', () => {
  it('starts from the command line, signs a message and stops cleanly on SIGTERM', async () => {
    const port = await closedPort();
    const configFile = path.join(dir, 'process.yaml');
    writeFileSync(configFile, configYaml(`maildir:${path.join(dir, 'maildir')}`).replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`));
    const node = path.join(root, 'node_modules', '.bin', 'node');
    // bin/siegel.js runs the build in dist/ (npm test builds it first).
    const child = spawn(node, [path.join(root, 'bin', 'siegel.js'), 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitForPort(port);
      const result = await swaks(port, ['--header', 'Subject: Prozess']);
      expect(result.status).toBe(0);
      const files = readdirSync(path.join(dir, 'maildir', 'new'));
      expect(files).toHaveLength(1);
      const delivered = readFileSync(path.join(dir, 'maildir', 'new', files[0] ?? ''));
      expect(peers.openssl(delivered).stderr).toContain('Verification successful');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    expect(stderr).toContain('"msg":"listening"');
  });
});
