/**
 * The inbound listener of a real `siegel serve` (in-process, fixed clock)
 * between a real SMTP client (nodemailer, swaks) and a real next hop: the
 * internal server receives the message with our Authentication-Results,
 * decrypted where the key is enrolled; forged verdicts are gone; hostile
 * input is still accepted and delivered with permerror; recipients outside
 * the internal domains are refused at RCPT.
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { sendMail, startFakeNextHop, type FakeNextHop } from '../smtp/helpers.js';
import {
  addressing,
  AT,
  AUTHSERV_ID,
  bodyEntity,
  createGateway,
  header,
  inboundFixtures,
  opensslEncrypted,
  opensslSigned,
  opensslVerify,
  ourVerdicts,
  PARTNER,
  pkcs7Mime,
  removeInboundFixtures,
  verdictOf,
  type Gateway,
  type InboundFixtures,
} from './fixtures.js';

let f: InboundFixtures;
let gw: Gateway;
let hop: FakeNextHop;
let server: ServeHandle;

beforeAll(async () => {
  f = await inboundFixtures();
  hop = await startFakeNextHop();
  const smtp = ['smtp:', '  submission:', '    listen: 127.0.0.1:0', `    relay: ${hop.url}`, '  inbound:', '    listen: 127.0.0.1:0', `    relay: ${hop.url}`, '    nextHop: { timeout: 20s }', 'web:', '  listen: 127.0.0.1:0'].join('\n');
  gw = await createGateway(f, smtp);
  const config = loadConfig({ file: gw.configFile, env: {} });
  server = await startServer({ config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger: silentLogger(), now: () => AT });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await hop?.stop();
  gw?.remove();
  await removeInboundFixtures();
});

/** Sends one message to the inbound listener and returns what the next hop received for it. */
async function relay(raw: Buffer, to = 'poststelle@stadt.example'): Promise<Buffer> {
  const before = hop.received.length;
  const outcome = await sendMail(server.ports.inbound, { from: PARTNER, to: [to], raw });
  expect(outcome.response).toMatch(/^250/);
  expect(hop.received).toHaveLength(before + 1);
  const received = hop.received[before];
  expect(received?.rcptTo).toEqual([to]);
  return received?.raw ?? Buffer.alloc(0);
}

test('a signed message reaches the internal server with the verdict and still verifies', async () => {
  const entity = bodyEntity();
  const delivered = await relay(opensslSigned(f, f.signers.rsa3072, entity, { to: addressing(f.signers.rsa3072.email) }));
  expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': f.signers.rsa3072.email } });
  const verified = opensslVerify(f, delivered);
  expect(verified.stderr).toContain('Verification successful');
  expect(verified.content.equals(entity)).toBe(true);
});

test('an encrypted message for the EC mailbox arrives decrypted, signed and marked', async () => {
  const entity = bodyEntity();
  const signed = opensslSigned(f, f.signers.rsa2048, entity);
  const delivered = await relay(opensslEncrypted(f, f.mailboxes.ec, signed, addressing(PARTNER, 'Geheim', f.mailboxes.ec.email), { gcm: true }), f.mailboxes.ec.email);
  expect(verdictOf(delivered)).toMatchObject({ result: 'pass', properties: { 'body.smime-identifier': PARTNER } });
  expect(header(delivered, 'X-Siegel-Encrypted')).toEqual([`decrypted; content=aes-256-gcm; key=ecdh; for=${f.mailboxes.ec.email}`]);
  expect(opensslVerify(f, delivered).content.equals(entity)).toBe(true);
});

test('a forged Authentication-Results with our authserv-id is removed, a foreign one kept', async () => {
  const forged = `Authentication-Results: ${AUTHSERV_ID}; smime=pass body.smime-identifier=${PARTNER}\r\nAuthentication-Results: mx.partner.example; dkim=pass\r\n`;
  const plain = Buffer.from(`${forged}From: ${PARTNER}\r\nTo: poststelle@stadt.example\r\nSubject: Hallo\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nunsigniert\r\n`, 'latin1');
  const delivered = await relay(plain);
  const ours = ourVerdicts(delivered);
  expect(ours).toHaveLength(1);
  expect(ours[0]?.results).toEqual([{ result: 'none', reason: 'unsigned', properties: {} }]);
  expect(header(delivered, 'Authentication-Results').filter((v) => v.startsWith('mx.partner.example'))).toHaveLength(1);
});

test('a hostile message still gets 250 and arrives with permerror', async () => {
  const hostile = pkcs7Mime(addressing(PARTNER), Buffer.concat([Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]), Buffer.alloc(64, 0x41)]), 'enveloped-data');
  const delivered = await relay(hostile);
  expect(verdictOf(delivered).result).toBe('permerror');
  expect(delivered.subarray(delivered.length - hostile.length).equals(hostile)).toBe(true);
});

test('a recipient outside internalDomains gets 550 5.7.1 at RCPT and nothing is relayed', async () => {
  const before = hop.dataStarted;
  const outcome = await sendMail(server.ports.inbound, { from: PARTNER, to: ['jemand@example.org'], raw: opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing(PARTNER) }) });
  expect(outcome.ok).toBe(false);
  expect(outcome.response).toMatch(/^550 5\.7\.1/);
  expect(hop.dataStarted).toBe(before);
});

test('swaks sends an opaque signed message: delivered as multipart/signed with pass', async () => {
  const entity = bodyEntity();
  const opaque = opensslSigned(f, f.signers.p256, entity, { to: addressing(f.signers.p256.email), opaque: true });
  const before = hop.received.length;
  const result = await swaks(['--from', f.signers.p256.email, '--to', 'poststelle@stadt.example', '--data', '-'], opaque);
  expect(result.out).toMatch(/<- +250 [^\n]*\n +-> QUIT/);
  expect(result.status).toBe(0);
  const delivered = hop.received[before]?.raw ?? Buffer.alloc(0);
  expect(verdictOf(delivered)).toMatchObject({ result: 'pass', properties: { 'body.smime-identifier': f.signers.p256.email } });
  const verified = opensslVerify(f, delivered, true);
  expect(verified.stderr).toContain('Verification successful');
  expect(verified.content.equals(entity)).toBe(true);
});

/** swaks without blocking this process (the gateway under test runs in it). */
function swaks(args: readonly string[], input: Buffer): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('swaks', ['--server', `127.0.0.1:${server.ports.inbound}`, ...args]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill(), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
    child.stdin.end(input);
  });
}
