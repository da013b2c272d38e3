/**
 * smtp.submission.auth.senders: a login may make the gateway sign only as
 * the senders assigned to it.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { openKeystore } from '../../src/keystore/open.js';
import { silentLogger } from '../../src/log.js';
import { createRootCa, issueMailbox } from '../../src/pki/generate.js';
import { hashPassword } from '../../src/smtp/credentials.js';
import { sampleMessage, sendMail, startFakeNextHop, tempDir, type FakeNextHop } from '../smtp/helpers.js';

let dir: string;
let hop: FakeNextHop;
let server: ServeHandle;

function messageFrom(address: string): Buffer {
  return Buffer.from(sampleMessage().toString('latin1').replace('From: Amt <amt@stadt.example>', `From: <${address}>`), 'latin1');
}

beforeAll(async () => {
  dir = tempDir('siegel-senders-');
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'master.key'), 's'.repeat(44), { mode: 0o600 });
  writeFileSync(path.join(dir, 'users'), `scanner:${await hashPassword('scan-pw')}\nkanzlei:${await hashPassword('k-pw')}\nfremd:${await hashPassword('f-pw')}\n`, { mode: 0o600 });
  hop = await startFakeNextHop();
  writeFileSync(
    path.join(dir, 'siegel.yaml'),
    [
      'dataDir: data',
      'trustAnchors: trust',
      'masterKeyFile: master.key',
      'smtp:',
      '  submission:',
      '    listen: 127.0.0.1:0',
      `    relay: ${hop.url}`,
      '    auth:',
      '      credentialsFile: users',
      '      senders: { scanner: [scanner@stadt.example], kanzlei: ["@stadt.example"] }',
      '',
    ].join('\n'),
  );
  const config = loadConfig({ file: path.join(dir, 'siegel.yaml'), env: {} });
  const root = await createRootCa({ subject: [['CN', 'Senders Root']], keySpec: 'p256' });
  const keystore = openKeystore(config, {}, () => new Date());
  for (const mailbox of ['poststelle@stadt.example', 'scanner@stadt.example']) {
    const leaf = await issueMailbox(root, { subject: [['CN', mailbox]], email: mailbox, keySpec: 'p256' });
    await keystore.importIdentity({ mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [] }, new Date());
  }
  await keystore.close();
  server = await startServer({ config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger: silentLogger(), now: () => new Date() });
});

afterAll(async () => {
  await server.stop();
  await hop.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  hop.received.length = 0;
});

describe('logins bound to senders', () => {
  it('signs for a login sending as its own address', async () => {
    const outcome = await sendMail(server.ports.submission, { auth: { user: 'scanner', pass: 'scan-pw' }, from: 'scanner@stadt.example', raw: messageFrom('scanner@stadt.example') });
    expect(outcome.ok).toBe(true);
    expect(hop.received).toHaveLength(1);
  });

  it('refuses with 553 5.7.1 when the login uses another From address, and relays nothing', async () => {
    const outcome = await sendMail(server.ports.submission, { auth: { user: 'scanner', pass: 'scan-pw' }, from: 'scanner@stadt.example', raw: messageFrom('poststelle@stadt.example') });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^553 5\.7\.1/);
    expect(hop.received).toHaveLength(0);
  });

  it('accepts any address of a domain assigned to the login', async () => {
    const outcome = await sendMail(server.ports.submission, { auth: { user: 'kanzlei', pass: 'k-pw' }, from: 'poststelle@stadt.example', raw: messageFrom('poststelle@stadt.example') });
    expect(outcome.ok).toBe(true);
  });

  it('refuses a login that has no senders assigned', async () => {
    const outcome = await sendMail(server.ports.submission, { auth: { user: 'fremd', pass: 'f-pw' }, from: 'scanner@stadt.example', raw: messageFrom('scanner@stadt.example') });
    expect(outcome.response).toMatch(/^553 5\.7\.1/);
  });

  it('does not check clients that relay without AUTH from the client networks', async () => {
    const outcome = await sendMail(server.ports.submission, { from: 'poststelle@stadt.example', raw: messageFrom('poststelle@stadt.example') });
    expect(outcome.ok).toBe(true);
  });
});
