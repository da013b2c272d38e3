/**
 * smtp.submission.auth.senders: a login may make the gateway sign only as
 * the senders assigned to it.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { hashPassword } from '../../src/smtp/credentials.js';
import { sampleMessage, sendMail, startFakeNextHop, type FakeNextHop } from '../smtp/helpers.js';
import { startTestGateway, type TestGateway } from './test-gateway.js';

let hop: FakeNextHop;
let gateway: TestGateway;

function messageFrom(address: string): Buffer {
  return Buffer.from(sampleMessage().toString('latin1').replace('From: Amt <amt@stadt.example>', `From: <${address}>`), 'latin1');
}

beforeAll(async () => {
  hop = await startFakeNextHop();
  const users = `scanner:${await hashPassword('scan-pw')}\nkanzlei:${await hashPassword('k-pw')}\nfremd:${await hashPassword('f-pw')}\n`;
  gateway = await startTestGateway({
    configTail: (dir) => {
      writeFileSync(path.join(dir, 'users'), users, { mode: 0o600 });
      return [
        'smtp:',
        '  submission:',
        '    listen: 127.0.0.1:0',
        `    relay: ${hop.url}`,
        '    auth:',
        '      credentialsFile: users',
        '      senders: { scanner: [scanner@stadt.example], kanzlei: ["@stadt.example"] }',
        '',
      ].join('\n');
    },
    mailboxes: ['poststelle@stadt.example', 'scanner@stadt.example'],
  });
});

afterAll(async () => {
  await gateway.stop();
  await hop.stop();
});

beforeEach(() => {
  hop.received.length = 0;
});

describe('logins bound to senders', () => {
  it('signs for a login sending as its own address', async () => {
    const outcome = await sendMail(gateway.server.ports.submission, { auth: { user: 'scanner', pass: 'scan-pw' }, from: 'scanner@stadt.example', raw: messageFrom('scanner@stadt.example') });
    expect(outcome.ok).toBe(true);
    expect(hop.received).toHaveLength(1);
  });

  it('refuses with 553 5.7.1 when the login uses another From address, and relays nothing', async () => {
    const outcome = await sendMail(gateway.server.ports.submission, { auth: { user: 'scanner', pass: 'scan-pw' }, from: 'scanner@stadt.example', raw: messageFrom('poststelle@stadt.example') });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^553 5\.7\.1/);
    expect(hop.received).toHaveLength(0);
  });

  it('accepts any address of a domain assigned to the login', async () => {
    const outcome = await sendMail(gateway.server.ports.submission, { auth: { user: 'kanzlei', pass: 'k-pw' }, from: 'poststelle@stadt.example', raw: messageFrom('poststelle@stadt.example') });
    expect(outcome.ok).toBe(true);
  });

  it('refuses a login that has no senders assigned', async () => {
    const outcome = await sendMail(gateway.server.ports.submission, { auth: { user: 'fremd', pass: 'f-pw' }, from: 'scanner@stadt.example', raw: messageFrom('scanner@stadt.example') });
    expect(outcome.response).toMatch(/^553 5\.7\.1/);
  });

  it('does not check clients that relay without AUTH from the client networks', async () => {
    const outcome = await sendMail(gateway.server.ports.submission, { from: 'poststelle@stadt.example', raw: messageFrom('poststelle@stadt.example') });
    expect(outcome.ok).toBe(true);
  });
});
