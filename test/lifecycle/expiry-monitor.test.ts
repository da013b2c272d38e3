/**
 * The expiry monitor at fixed clocks, with the real keystore, the real mail
 * notifier (outbound pipeline, signed by the enrolled notification sender)
 * and a Maildir next hop: one warn line per expiring identity (renewed ones
 * and far-off ones are left out), one German+English digest per UTC day
 * (not again after a restart, again the next day, retried after a failed
 * send), none when nothing expires; and `siegel serve` runs it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startServer } from '../../src/commands/serve.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { openKeystore } from '../../src/keystore/open.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { createExpiryMonitor, DIGEST_STATE_FILE, startExpiryMonitor, type ExpiryMonitorOptions } from '../../src/lifecycle/expiry-monitor.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import type { Issued } from '../../src/pki/generate.js';
import { createNextHop } from '../../src/smtp/next-hop.js';
import { silentLogger } from '../../src/log.js';
import { createMailNotifier } from '../../src/transfer/mail-notifier.js';
import type { Notifier } from '../../src/transfer/types.js';
import { captureLogger } from '../smtp/helpers.js';
import { mailboxCert, testPki, type TestPki } from '../pki/test-pki.js';
import { gatewayDir, maildirMessages, siegel, type GatewayDir } from './helpers.js';

const DAY = 86_400_000;
const AT = new Date('2027-01-01T08:00:00Z');
const ADMIN = 'it-betrieb@stadt.example';

interface Scene {
  readonly gw: GatewayDir;
  readonly maildir: string;
  readonly config: Config;
  readonly expiringSign: Issued;
  readonly expired: Issued;
}

let pki: TestPki;
let scene: Scene;

async function enroll(gw: GatewayDir, mailbox: string, leaf: Issued, now: Date): Promise<void> {
  const files = gw.pem(`${mailbox}-${leaf.certificate.length}-${Math.random().toString(16).slice(2)}`, leaf);
  const result = await siegel(['enroll', 'import', '--config', gw.config, '--mailbox', mailbox, '--cert', files.cert, '--key', files.key, '--chain', files.chain], { now });
  expect(result.stderr).not.toMatch(/refused|rejected/);
  expect(result.code).toBe(0);
}

/**
 * poststelle: sign certificate expiring 2027-01-20 (expiring), encrypt certificate to 2029 (fine);
 * info: expired 2026-12-20 (expired, not renewed); bauamt: expires 2027-01-15 but its renewal is enrolled;
 * siegel@: the notification sender.
 */
async function buildScene(): Promise<Scene> {
  const maildirRoot = 'admin-mail';
  const gw = gatewayDir(pki, `smtp:\n  submission:\n    listen: 127.0.0.1:0\n    relay: maildir:${maildirRoot}\n  inbound:\n    listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\nenrollment:\n  adminAddress: ${ADMIN}\n`);
  const expiringSign = await mailboxCert(pki, { email: 'poststelle@stadt.example', usage: 'sign', keySpec: 'p256', notAfter: new Date('2027-01-20T12:00:00Z') });
  const expired = await mailboxCert(pki, { email: 'info@stadt.example', usage: 'both', keySpec: 'p256', notAfter: new Date('2026-12-20T00:00:00Z') });
  await enroll(gw, 'poststelle@stadt.example', expiringSign, AT);
  await enroll(gw, 'poststelle@stadt.example', await mailboxCert(pki, { email: 'poststelle@stadt.example', usage: 'encrypt', keySpec: 'p256' }), AT);
  await enroll(gw, 'info@stadt.example', expired, new Date('2026-06-01T00:00:00Z'));
  await enroll(gw, 'bauamt@stadt.example', await mailboxCert(pki, { email: 'bauamt@stadt.example', usage: 'both', keySpec: 'p256', notAfter: new Date('2027-01-15T00:00:00Z') }), new Date('2026-12-01T00:00:00Z'));
  await enroll(gw, 'bauamt@stadt.example', await mailboxCert(pki, { email: 'bauamt@stadt.example', usage: 'both', keySpec: 'p256', notBefore: new Date('2027-01-10T00:00:00Z'), notAfter: new Date('2030-01-10T00:00:00Z') }), new Date('2026-12-01T00:00:00Z'));
  await enroll(gw, 'siegel@stadt.example', await mailboxCert(pki, { email: 'siegel@stadt.example', usage: 'both', keySpec: 'p256' }), AT);
  const config = loadConfig({ file: gw.config, env: {} });
  // Relative Maildirs are resolved against dataDir.
  return { gw, maildir: path.join(config.dataDir, maildirRoot), config, expiringSign, expired };
}

beforeAll(async () => {
  pki = await testPki('p256');
  scene = await buildScene();
}, 60_000);

/** Quoted-printable body text of a delivered message (the digest is QP inside the signature). */
function readable(message: Buffer): string {
  const qp = message.toString('latin1').replace(/=\r\n/g, '');
  return Buffer.from(qp.replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
}

interface Harness {
  readonly keystore: Keystore;
  readonly lines: () => Record<string, unknown>[];
  options(overrides?: Partial<ExpiryMonitorOptions>): ExpiryMonitorOptions;
  close(): Promise<void>;
}

function harness(config: Config, clock: { now: Date }, stateFile: string): Harness {
  const keystore = openKeystore(config, {}, () => clock.now);
  const { logger, lines } = captureLogger();
  const nextHop = createNextHop(config.smtp.submission.relay, config.smtp.submission.nextHop, silentLogger());
  const notifier = createMailNotifier({ config, outbound: createOutboundPipeline({ config, identities: keystore, now: () => clock.now }), nextHop, logger: silentLogger(), now: () => clock.now });
  return {
    keystore,
    lines,
    options: (overrides = {}) => ({
      identities: () => keystore.list(),
      warningMs: config.enrollment.expiryWarning,
      adminAddress: ADMIN,
      notifier,
      logger,
      now: () => clock.now,
      stateFile,
      ...overrides,
    }),
    async close() {
      await nextHop.close();
      await keystore.close();
    },
  };
}

const warnLines = (lines: Record<string, unknown>[]) => lines.filter((l) => l.level === 'warn');

describe('createExpiryMonitor', () => {
  it('logs each expiring identity, mails one digest a day, not again after a restart, again the next day', async () => {
    const clock = { now: AT };
    const stateFile = path.join(scene.gw.dir, 'state-a');
    const h = harness(scene.config, clock, stateFile);
    try {
      const monitor = createExpiryMonitor(h.options());
      const first = await monitor.check();
      expect(first.logged).toBe(true);
      expect(first.digest).toBe('sent');
      expect(first.expiring.map((e) => [e.identity.mailbox, e.identity.role, e.status, e.daysLeft])).toEqual([
        ['info@stadt.example', 'both', 'expired', -13],
        ['poststelle@stadt.example', 'sign', 'in-use', 19],
      ]);
      const warned = warnLines(h.lines());
      expect(warned.map((l) => [l.mailbox, l.role, l.daysLeft, l.msg])).toEqual([
        ['info@stadt.example', 'both', -13, 'identity expired and not renewed: renew it'],
        ['poststelle@stadt.example', 'sign', 19, 'identity expires soon and is not renewed: renew it'],
      ]);
      expect(warned[1]).toMatchObject({ notAfter: '2027-01-20T12:00:00.000Z', subject: 'CN=Mailbox poststelle@stadt.example,O=Stadt Test,C=DE', serial: expect.stringMatching(/^[0-9A-F]+$/) });

      const mails = maildirMessages(scene.maildir);
      expect(mails).toHaveLength(1);
      const mail = readable(mails[0] as Buffer);
      expect(mail).toMatch(/^To: it-betrieb@stadt.example\r$/m);
      expect(mail).toMatch(/^From: siegel@stadt.example\r$/m);
      expect(mail).toMatch(/^Content-Type: multipart\/signed;/m);
      expect(mail).toMatch(/^Subject: Siegel: 2 Zertifikate laufen ab \/ 2 certificates expiring\r$/m);
      for (const text of [
        '- info@stadt.example (Signatur und Verschlüsselung)',
        '  Gültig bis:   2026-12-20 00:00 UTC (seit 12 Tagen abgelaufen)',
        '- poststelle@stadt.example (Signatur)',
        '  Inhaber:      CN=Mailbox poststelle@stadt.example,O=Stadt Test,C=DE',
        '  Gültig bis:   2027-01-20 12:00 UTC (noch 19 Tage)',
        '- poststelle@stadt.example (signing)',
        '  Expires:      2027-01-20 12:00 UTC (19 days left)',
        '  Expires:      2026-12-20 00:00 UTC (expired 12 days ago)',
        'siegel enroll import --mailbox ADRESSE --cert DATEI',
        'siegel enroll import --mailbox ADDRESS --cert FILE',
      ]) {
        expect(mail.replace(/\r\n/g, '\n')).toContain(text);
      }
      expect(mail).toContain(`Seriennummer: ${String(warned[1]?.serial)}`);
      expect(mail).not.toContain('bauamt@stadt.example');

      clock.now = new Date(AT.getTime() + 10 * 3_600_000);
      const later = await monitor.check();
      expect(later).toMatchObject({ logged: false, digest: 'already-sent-today' });
      expect(warnLines(h.lines())).toHaveLength(2);

      const restarted = createExpiryMonitor(h.options());
      expect(await restarted.check()).toMatchObject({ logged: true, digest: 'already-sent-today' });
      expect(warnLines(h.lines())).toHaveLength(4);
      expect(maildirMessages(scene.maildir)).toHaveLength(1);

      clock.now = new Date(AT.getTime() + DAY);
      expect(await restarted.check()).toMatchObject({ logged: true, digest: 'sent' });
      expect(maildirMessages(scene.maildir)).toHaveLength(2);
    } finally {
      await h.close();
    }
  }, 30_000);

  it('retries a failed digest at the next check; without adminAddress nothing is mailed, the lines are still logged', async () => {
    const clock = { now: new Date('2027-01-05T08:00:00Z') };
    const h = harness(scene.config, clock, path.join(scene.gw.dir, 'state-b'));
    try {
      const sent: string[] = [];
      let fail = true;
      const flaky: Notifier = {
        async send(message) {
          if (fail) throw new Error('next hop said 451');
          sent.push(message.subject);
        },
      };
      const monitor = createExpiryMonitor(h.options({ notifier: flaky }));
      expect((await monitor.check()).digest).toBe('failed');
      expect(h.lines().find((l) => l.level === 'error')).toMatchObject({ to: ADMIN, error: 'next hop said 451' });
      fail = false;
      expect((await monitor.check()).digest).toBe('sent');
      expect(sent).toEqual(['Siegel: 2 Zertifikate laufen ab / 2 certificates expiring']);

      const silent = createExpiryMonitor(h.options({ adminAddress: undefined, stateFile: path.join(scene.gw.dir, 'state-c') }));
      const result = await silent.check();
      expect(result).toMatchObject({ logged: true, digest: 'no-admin-address' });
      expect(result.expiring).toHaveLength(2);
    } finally {
      await h.close();
    }
  });

  it('mails the digest once a day also when its state file cannot be written (full or read-only disk)', async () => {
    const clock = { now: new Date('2027-01-05T08:00:00Z') };
    // A state file below a regular file: every write fails, as on a full or read-only disk.
    const blocker = path.join(scene.gw.dir, 'not-a-directory');
    writeFileSync(blocker, 'x');
    const h = harness(scene.config, clock, path.join(blocker, 'state'));
    try {
      const sent: string[] = [];
      const monitor = createExpiryMonitor(h.options({ notifier: { send: async (m) => void sent.push(m.subject) } }));
      expect((await monitor.check()).digest).toBe('sent');
      expect(h.lines().some((l) => l.msg === 'cannot remember the day of the expiry digest')).toBe(true);
      clock.now = new Date('2027-01-05T09:00:00Z');
      expect((await monitor.check()).digest).toBe('already-sent-today');
      expect(sent).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('mails nothing when nothing expires within the warning time', async () => {
    const clock = { now: new Date('2026-06-02T00:00:00Z') };
    const h = harness(scene.config, clock, path.join(scene.gw.dir, 'state-d'));
    try {
      const sent: string[] = [];
      const monitor = createExpiryMonitor(h.options({ notifier: { send: async (m) => void sent.push(m.subject) } }));
      const result = await monitor.check();
      expect(result).toMatchObject({ logged: true, digest: 'nothing-expiring', expiring: [] });
      expect(sent).toEqual([]);
      expect(warnLines(h.lines())).toEqual([]);
      expect(h.lines().find((l) => l.msg === 'no identity expires soon')).toMatchObject({ level: 'info', warning: '30d' });
    } finally {
      await h.close();
    }
  });
});

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('startExpiryMonitor checks at once and again on its interval (the clock moved a day: a second digest)', async () => {
  const clock = { now: new Date('2027-01-06T08:00:00Z') };
  const h = harness(scene.config, clock, path.join(scene.gw.dir, 'state-e'));
  const sent: string[] = [];
  const monitor = startExpiryMonitor(h.options({ notifier: { send: async (m) => void sent.push(m.text) }, checkIntervalMs: 1000 }));
  try {
    await waitFor(() => (sent.length === 1 ? true : undefined));
    clock.now = new Date('2027-01-07T08:00:00Z');
    await waitFor(() => (sent.length === 2 ? true : undefined));
    expect(sent[1]).toContain('noch 13 Tage');
  } finally {
    await monitor.stop();
    await h.close();
  }
}, 30_000);

test('siegel serve mails the digest to enrollment.adminAddress through the submission relay', async () => {
  const before = maildirMessages(scene.maildir).length;
  const now = new Date('2027-01-10T06:00:00Z');
  const server = await startServer({ config: scene.config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger: silentLogger(), now: () => now });
  try {
    const mail = await waitFor(() => maildirMessages(scene.maildir)[before]);
    const text = readable(mail);
    expect(text).toMatch(/^To: it-betrieb@stadt.example\r$/m);
    expect(text).toContain('(noch 10 Tage)');
    expect(text).toContain('(expired 21 days ago)');
    // The state is written once the relay has answered, which may be just after the Maildir file appears.
    expect(await waitFor(() => (existsSync(path.join(scene.config.dataDir, DIGEST_STATE_FILE)) ? true : undefined))).toBe(true);
  } finally {
    await server.stop();
  }
}, 30_000);
