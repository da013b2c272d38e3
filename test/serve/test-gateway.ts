/**
 * A gateway for serve-level tests: a temp dir with a master key and the
 * given config (after the data/trust/master-key lines), the given mailboxes
 * enrolled with P-256 certificates from a throw-away root, and `siegel serve`
 * started in-process on an ephemeral port.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { openKeystore } from '../../src/keystore/open.js';
import { silentLogger } from '../../src/log.js';
import { createRootCa, issueMailbox } from '../../src/pki/generate.js';
import { tempDir } from '../smtp/helpers.js';

export interface TestGateway {
  readonly dir: string;
  readonly server: ServeHandle;
  stop(): Promise<void>;
}

/** `configTail` is YAML appended after the dataDir/trustAnchors/masterKeyFile lines; it may reference `dir`. */
export async function startTestGateway(options: { configTail: (dir: string) => string; mailboxes: readonly string[] }): Promise<TestGateway> {
  const dir = tempDir('siegel-gateway-');
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'master.key'), 't'.repeat(44), { mode: 0o600 });
  const file = path.join(dir, 'siegel.yaml');
  writeFileSync(file, `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\n${options.configTail(dir)}`);
  const parsed = loadConfig({ file, env: {} });
  // Nor the submission listener's default port (10587), unless the test sets submission.listen itself.
  const loaded = /^ {2}submission:\s*\n(?: {4}.*\n)*? {4}listen:/m.test(options.configTail(dir))
    ? parsed
    : { ...parsed, smtp: { ...parsed.smtp, submission: { ...parsed.smtp.submission, listen: { host: '127.0.0.1', port: 0 } } } };
  // Tests that do not care about the inbound listener must not all bind its default port.
  const withInbound = /^ {2}inbound:/m.test(options.configTail(dir)) ? loaded : { ...loaded, smtp: { ...loaded.smtp, inbound: { ...loaded.smtp.inbound, listen: { host: '127.0.0.1', port: 0 } } } };
  // Nor the web listener's (unless the test sets web.listen itself).
  const config = /^web:\s*\n(?: {2}.*\n)*? {2}listen:/m.test(options.configTail(dir)) ? withInbound : { ...withInbound, web: { ...withInbound.web, listen: { host: '127.0.0.1', port: 0 } } };
  const root = await createRootCa({ subject: [['CN', 'Gateway Test Root']], keySpec: 'p256' });
  const keystore = openKeystore(config, {}, () => new Date());
  for (const mailbox of options.mailboxes) {
    const leaf = await issueMailbox(root, { subject: [['CN', mailbox]], email: mailbox, keySpec: 'p256' });
    await keystore.importIdentity({ mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [] }, new Date());
  }
  await keystore.close();
  const server = await startServer({ config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger: silentLogger(), now: () => new Date() });
  return {
    dir,
    server,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The smtp: block of a config with both listeners on free ports relaying to
 * `relay`; `listenerLines` (4-space indented YAML) are added to each.
 */
export function bothListenersYaml(relay: string, listenerLines: readonly string[] = []): string[] {
  const listener = (name: string): string[] => [`  ${name}:`, '    listen: 127.0.0.1:0', `    relay: ${relay}`, ...listenerLines];
  return ['smtp:', ...listener('submission'), ...listener('inbound')];
}
