/**
 * The exchange's own mail: built as a small RFC 5322 message, sent through
 * the real outbound pipeline (signed when the sender is enrolled) and
 * delivered into a Maildir by the real next hop. Read back by OpenSSL and
 * Python's email package.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { SiegelError } from '../../src/errors.js';
import { openKeystore } from '../../src/keystore/open.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { silentLogger } from '../../src/log.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { toPem } from '../../src/pki/pem.js';
import { createNextHop, type NextHop } from '../../src/smtp/next-hop.js';
import { buildNotification, createMailNotifier } from '../../src/transfer/mail-notifier.js';
import { rfc5322Date } from '../../src/mime/date.js';
import { AT, mailboxCert, tempDir, testPki, type TestPki } from '../pki/test-pki.js';
import { pythonLeaves } from '../pipeline/offload-messages.js';

const SENDER = 'siegel@stadt.example';

describe('mail notifier', () => {
  let dir: string;
  let pki: TestPki;
  let keystore: Keystore;
  let baseConfig: Config;

  beforeAll(async () => {
    dir = tempDir('siegel-notifier-');
    pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: SENDER });
    writeFileSync(path.join(dir, 'master.key'), 'k'.repeat(44), { mode: 0o600 });
    writeFileSync(path.join(dir, 'root.pem'), toPem('CERTIFICATE', pki.root.certificate));
    baseConfig = loadConfig({
      values: { dataDir: path.join(dir, 'data'), trustAnchors: dir, masterKeyFile: path.join(dir, 'master.key'), internalDomains: ['stadt.example'] },
      baseDir: dir,
      env: {},
    });
    keystore = openKeystore(baseConfig, {}, () => AT);
    await keystore.importIdentity({ mailbox: SENDER, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [pki.ca.certificate] }, AT);
  });

  afterAll(async () => {
    await keystore.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function setUp(name: string, largeFiles: Record<string, unknown> = {}): { notifier: ReturnType<typeof createMailNotifier>; hop: NextHop; maildir: string; config: Config } {
    const maildir = path.join(dir, name);
    const config = { ...baseConfig, largeFiles: { ...baseConfig.largeFiles, ...largeFiles } } as Config;
    const hop = createNextHop(`maildir:${maildir}`, config.smtp.submission.nextHop, silentLogger());
    const outbound = createOutboundPipeline({ config, identities: keystore, now: () => AT });
    return { notifier: createMailNotifier({ config, outbound, nextHop: hop, logger: silentLogger(), now: () => AT }), hop, maildir, config };
  }

  function delivered(maildir: string): Buffer[] {
    const dirNew = path.join(maildir, 'new');
    return readdirSync(dirNew).map((f) => readFileSync(path.join(dirNew, f)));
  }

  it('sends a signed message from siegel@ the first internal domain, which OpenSSL verifies', async () => {
    const { notifier, hop, maildir } = setUp('signed');
    const text = 'Ihre Datei „Plan.pdf“ wurde heruntergeladen.\nYour file was downloaded.\n';
    await notifier.send({ to: 'Sachbearbeiterin@Stadt.example', subject: 'Datei heruntergeladen – Plan.pdf', text });
    await hop.close();
    const messages = delivered(maildir);
    expect(messages).toHaveLength(1);
    const message = messages[0] as Buffer;
    const header = message.subarray(0, message.indexOf('\r\n\r\n')).toString('latin1');
    expect(header).toMatch(/^From: siegel@stadt\.example$/m);
    expect(header).toMatch(/^To: sachbearbeiterin@stadt\.example$/m);
    expect(header).toMatch(/^Date: Fri, 1 Jan 2027 00:00:00 \+0000$/m);
    expect(header).toMatch(/^Message-ID: <[0-9a-f]{32}@stadt\.example>$/m);
    expect(header).toMatch(/^Subject: =\?utf-8\?B\?/m);
    expect(header).toMatch(/^Content-Type: multipart\/signed;/m);

    const file = path.join(dir, 'signed.eml');
    writeFileSync(file, message);
    const verify = spawnSync('openssl', ['cms', '-verify', '-CAfile', path.join(dir, 'root.pem'), '-purpose', 'smimesign', '-attime', String(AT.getTime() / 1000), '-in', file]);
    expect(verify.stderr.toString()).toContain('Verification successful');
    expect(verify.status).toBe(0);

    const python = pythonLeaves(dir, message);
    expect(python.subject).toBe('Datei heruntergeladen – Plan.pdf');
    const body = python.leaves.find((l) => l.type === 'text/plain');
    expect(body?.text?.replace(/\r\n/g, '\n')).toBe(text);
  });

  it('sends it unsigned from the configured address when that sender has no identity', async () => {
    const { notifier, hop, maildir } = setUp('plain', { notificationsFrom: 'dateiaustausch@stadt.example' });
    await notifier.send({ to: 'a@stadt.example', subject: 'Upload received', text: 'Line one\nLine two with a long link https://files.stadt.example/d/' + 'x'.repeat(120) });
    await hop.close();
    const [message] = delivered(maildir);
    expect(message).toBeDefined();
    const raw = (message as Buffer).toString('latin1');
    expect(raw).toMatch(/^From: dateiaustausch@stadt\.example\r\n/);
    expect(raw).toMatch(/^Subject: Upload received\r$/m);
    expect(raw).toMatch(/^Content-Type: text\/plain; charset=utf-8\r$/m);
    expect(Math.max(...raw.split('\r\n').map((l) => l.length))).toBeLessThanOrEqual(76);
    const python = pythonLeaves(dir, message as Buffer);
    expect(python.leaves.map((l) => l.text?.replace(/\r\n/g, '\n'))).toEqual(['Line one\nLine two with a long link https://files.stadt.example/d/' + 'x'.repeat(120) + '\n']);
  });

  it('refuses a recipient that is not one address, and strips line breaks from the subject', async () => {
    const { notifier, hop, maildir } = setUp('refused');
    for (const to of ['a@stadt.example, b@stadt.example', 'a@stadt.example\r\nBcc: b@x.example', 'nobody']) {
      await expect(notifier.send({ to, subject: 'x', text: 'y' })).rejects.toBeInstanceOf(SiegelError);
    }
    await hop.close();
    expect(() => readdirSync(path.join(maildir, 'new'))).toThrow();
    const built = buildNotification({ from: SENDER, to: 'a@stadt.example', subject: 'Hallo\r\nBcc: evil@x.example', text: 'z', date: AT }).toString('latin1');
    expect(built).toMatch(/^Subject: Hallo Bcc: evil@x\.example\r$/m);
    expect(built).not.toMatch(/^Bcc:/m);
    expect(rfc5322Date(new Date('2026-03-05T07:08:09Z'))).toBe('Thu, 5 Mar 2026 07:08:09 +0000');
  });
});
