/**
 * The contract of DESIGN.md: a config with only dataDir and trustAnchors is
 * valid, and the gateway runs on it (loopback only, mail passes unsigned).
 * A master key is needed only once identities are enrolled, and then its
 * absence stops the start instead of deferring every message.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { startServer } from '../../src/commands/serve.js';
import { openKeystore } from '../../src/keystore/open.js';
import { silentLogger } from '../../src/log.js';
import { createRootCa, issueMailbox } from '../../src/pki/generate.js';
import { sampleMessage, sendMail, tempDir } from '../smtp/helpers.js';

function context(config: ReturnType<typeof loadConfig>, env: NodeJS.ProcessEnv = {}) {
  return { config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env, logger: silentLogger(), now: () => new Date() };
}

describe('a config with only dataDir and trustAnchors', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('siegel-minimal-');
    mkdirSync(path.join(dir, 'trust'));
    writeFileSync(path.join(dir, 'siegel.yaml'), 'dataDir: data\ntrustAnchors: trust\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the gateway on loopback and relays mail unsigned into the default Maildir', async () => {
    const config = loadConfig({ file: path.join(dir, 'siegel.yaml'), env: {} });
    expect(config.smtp.submission.listen.host).toBe('127.0.0.1');
    const server = await startServer(context({ ...config, smtp: { ...config.smtp, submission: { ...config.smtp.submission, listen: { host: '127.0.0.1', port: 0 } }, inbound: { ...config.smtp.inbound, listen: { host: '127.0.0.1', port: 0 } } }, web: { ...config.web, listen: { host: '127.0.0.1', port: 0 } } }));
    try {
      const raw = sampleMessage();
      const outcome = await sendMail(server.ports.submission, { raw });
      expect(outcome.ok).toBe(true);
      expect(outcome.response).toMatch(/^250 /);
    } finally {
      await server.stop();
    }
    expect(config.smtp.submission.relay).toBe(`maildir:${path.join(dir, 'data', 'mail', 'outbound')}`);
  });

  it('refuses to start when identities are enrolled but no master key is configured', async () => {
    writeFileSync(path.join(dir, 'master.key'), 'z'.repeat(44), { mode: 0o600 });
    const withKey = loadConfig({ file: path.join(dir, 'siegel.yaml'), env: {}, values: {} });
    const keyed = { ...withKey, masterKeyFile: path.join(dir, 'master.key') };
    const root = await createRootCa({ subject: [['CN', 'Minimal Root']], keySpec: 'p256' });
    const leaf = await issueMailbox(root, { subject: [['CN', 'Amt']], email: 'amt@stadt.example', keySpec: 'p256' });
    const keystore = openKeystore(keyed, {}, () => new Date());
    await keystore.importIdentity({ mailbox: 'amt@stadt.example', privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [] }, new Date());
    await keystore.close();

    const config = loadConfig({ file: path.join(dir, 'siegel.yaml'), env: {} });
    await expect(startServer(context({ ...config, smtp: { ...config.smtp, submission: { ...config.smtp.submission, listen: { host: '127.0.0.1', port: 0 } }, inbound: { ...config.smtp.inbound, listen: { host: '127.0.0.1', port: 0 } } }, web: { ...config.web, listen: { host: '127.0.0.1', port: 0 } } }))).rejects.toThrow(/no master key/);
  });
});
