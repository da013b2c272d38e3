/**
 * Offloading behind the submission listener, as a mail client sees it: a
 * message with a large attachment is answered 250 once the small signed
 * message is in the Maildir; one whose file cannot be stored is refused
 * with the catalog's reply (quota: 552 5.2.2), so the client keeps it and
 * nothing half-done leaves.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { openKeystore } from '../../src/keystore/open.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { silentLogger } from '../../src/log.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { toPem } from '../../src/pki/pem.js';
import { createSmtpListener } from '../../src/smtp/listener.js';
import { createNextHop, type NextHop } from '../../src/smtp/next-hop.js';
import { openTransferService } from '../../src/transfer/open.js';
import type { TransferService } from '../../src/transfer/types.js';
import { AT, mailboxCert, tempDir, testPki } from '../pki/test-pki.js';
import { closedPort, sendMail, splitTrace } from '../smtp/helpers.js';
import { mixedMessage, pythonLeaves, sha256 } from './offload-messages.js';

const SENDER = 'bauamt@stadt.example';
const MB = 1024 * 1024;

describe('offloading behind the submission listener', () => {
  let dir: string;
  let config: Config;
  let keystore: Keystore;
  let transfer: TransferService;
  let hop: NextHop;
  let listener: ReturnType<typeof createSmtpListener>;
  let port: number;
  const maildir = () => path.join(dir, 'maildir', 'new');

  beforeAll(async () => {
    dir = tempDir('siegel-offload-smtp-');
    const pki = await testPki('rsa2048');
    const leaf = await mailboxCert(pki, { email: SENDER });
    writeFileSync(path.join(dir, 'master.key'), 'k'.repeat(44), { mode: 0o600 });
    writeFileSync(path.join(dir, 'root.pem'), toPem('CERTIFICATE', pki.root.certificate));
    config = loadConfig({
      values: {
        dataDir: path.join(dir, 'data'),
        trustAnchors: dir,
        masterKeyFile: path.join(dir, 'master.key'),
        internalDomains: ['stadt.example'],
        web: { publicUrl: 'https://dateien.stadt.example' },
        largeFiles: { threshold: '1MB', ownerQuota: '3MB', minFreeSpace: '1MB' },
        smtp: { submission: { listen: '127.0.0.1:0', relay: `maildir:${path.join(dir, 'maildir')}` } },
      },
      baseDir: dir,
      env: {},
    });
    keystore = openKeystore(config, {}, () => AT);
    await keystore.importIdentity({ mailbox: SENDER, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [pki.ca.certificate] }, AT);
    transfer = openTransferService(config, { logger: silentLogger(), now: () => AT });
    hop = createNextHop(config.smtp.submission.relay, config.smtp.submission.nextHop, silentLogger(), { hostname: 'siegel.test' });
    listener = createSmtpListener({
      name: 'submission',
      config: config.smtp.submission,
      hostname: 'siegel.test',
      logger: silentLogger(),
      process: createOutboundPipeline({ config, identities: keystore, now: () => AT, transfer }),
      nextHop: hop,
      now: () => AT,
    });
    ({ port } = await listener.start());
  });

  afterAll(async () => {
    await listener.stop();
    await hop.close();
    await transfer.close();
    await keystore.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 250 after the small signed message with the link was delivered', async () => {
    const file = randomBytes(2 * MB);
    const raw = mixedMessage({ from: SENDER, attachments: [{ name: 'Plan.pdf', content: file, contentType: 'application/pdf' }] });
    const outcome = await sendMail(port, { from: SENDER, to: ['partner@example.org'], raw });
    expect(outcome.response).toMatch(/^250 /);
    const files = readdirSync(maildir());
    expect(files).toHaveLength(1);
    const delivered = splitTrace(readFileSync(path.join(maildir(), files[0] as string))).rest;
    expect(delivered.length).toBeLessThan(64 * 1024);
    const signedFile = path.join(dir, 'delivered.eml');
    writeFileSync(signedFile, delivered);
    const verify = spawnSync('openssl', ['cms', '-verify', '-CAfile', path.join(dir, 'root.pem'), '-purpose', 'smimesign', '-attime', String(AT.getTime() / 1000), '-in', signedFile]);
    expect(verify.stderr.toString()).toContain('Verification successful');
    const note = pythonLeaves(dir, verify.stdout).leaves.find((l) => l.type === 'text/plain' && l.text?.includes('SHA-256'));
    expect(note?.text).toContain(sha256(file));
    const token = /https:\/\/dateien\.stadt\.example\/d\/([A-Za-z0-9_-]+)/.exec(note?.text ?? '')?.[1] as string;
    const result = await transfer.download(token, {});
    expect(result.status).toBe('ok');
    if (result.status !== 'ok') return;
    const chunks: Buffer[] = [];
    for await (const c of result.stream) chunks.push(c as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(file));
  });

  it('refuses with 552 5.2.2 when the owner quota is used up, and delivers nothing', async () => {
    const raw = mixedMessage({ from: SENDER, attachments: [{ name: 'Zu gross.pdf', content: randomBytes(2 * MB) }] });
    const outcome = await sendMail(port, { from: SENDER, to: ['partner@example.org'], raw });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^552 5\.2\.2 /);
    expect(readdirSync(maildir())).toHaveLength(1);
    expect((await transfer.list({ owner: SENDER })).map((s) => s.fileName)).toEqual(['Plan.pdf']);
  });

  it('revokes the links it made when the next hop is down: the client retries, and the first attempt leaves no files behind', async () => {
    const owner = 'zweite@stadt.example';
    const deadHop = createNextHop(`smtp://127.0.0.1:${await closedPort()}`, { ...config.smtp.submission.nextHop, timeout: 5_000 }, silentLogger());
    const dead = createSmtpListener({
      name: 'submission',
      config: config.smtp.submission,
      hostname: 'siegel.test',
      logger: silentLogger(),
      process: createOutboundPipeline({ config, identities: keystore, now: () => AT, transfer }),
      nextHop: deadHop,
      now: () => AT,
    });
    const { port: deadPort } = await dead.start();
    try {
      const raw = mixedMessage({ from: owner, attachments: [{ name: 'Entwurf.pdf', content: randomBytes(2 * MB) }] });
      const outcome = await sendMail(deadPort, { from: owner, to: ['partner@example.org'], raw });
      expect(outcome.response).toMatch(/^451 4\.4\.1 /);
      expect(await transfer.list({ owner })).toEqual([]);
      const all = await transfer.list({ owner, includeInactive: true });
      expect(all.map((s) => [s.fileName, s.state])).toEqual([['Entwurf.pdf', 'revoked']]);
    } finally {
      await dead.stop();
      await deadHop.close();
    }
  });
});
