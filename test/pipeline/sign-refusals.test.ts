/**
 * Messages from an enrolled mailbox that cannot be signed as written are
 * refused permanently (554 5.6.0, the sender learns at once), never
 * deferred for days, and never signed with their header swallowed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { SiegelError, smtpReplyFor } from '../../src/errors.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { openKeystore } from '../../src/keystore/open.js';
import { pipelineMessage } from '../../src/pipeline/message.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { createRootCa, issueMailbox } from '../../src/pki/generate.js';

const mailbox = 'amt@stadt.example';
let dir: string;
let keystore: Keystore;
let pipeline: ReturnType<typeof createOutboundPipeline>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-refusals-'));
  writeFileSync(path.join(dir, 'master.key'), 'r'.repeat(44), { mode: 0o600 });
  const config = loadConfig({ values: { dataDir: path.join(dir, 'data'), trustAnchors: dir, masterKeyFile: path.join(dir, 'master.key') }, baseDir: dir, env: {} });
  const root = await createRootCa({ subject: [['CN', 'Refusal Root']], keySpec: 'p256' });
  const leaf = await issueMailbox(root, { subject: [['CN', 'Amt']], email: mailbox, keySpec: 'p256' });
  keystore = openKeystore(config, {}, () => new Date());
  await keystore.importIdentity({ mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [] }, new Date());
  pipeline = createOutboundPipeline({ config, identities: keystore, now: () => new Date() });
});

afterAll(async () => {
  await keystore.close();
  rmSync(dir, { recursive: true, force: true });
});

async function refusal(raw: string): Promise<SiegelError> {
  const err = await pipeline(pipelineMessage({ mailFrom: mailbox, rcptTo: ['a@example.org'] }, Buffer.from(raw)), 'R').then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof SiegelError)) throw new Error(`expected a SiegelError, got ${String(err)}`);
  return err;
}

describe('unsignable messages from an enrolled mailbox', () => {
  it('refuses a header line that is not a field with 554 5.6.0, naming the line', async () => {
    const err = await refusal(`From: ${mailbox}\r\nGarbage without colon\r\nTo: a@example.org\r\n\r\nText\r\n`);
    expect(smtpReplyFor(err)).toMatchObject({ code: 554, enhanced: '5.6.0' });
    expect(err.message).toContain('header line 2');
  });

  it('refuses an mbox "From " first line and says where it comes from', async () => {
    const err = await refusal(`From ${mailbox} Mon Nov 23 12:00:00 2026\r\nFrom: ${mailbox}\r\nTo: a@example.org\r\n\r\nText\r\n`);
    expect(smtpReplyFor(err)).toMatchObject({ code: 554, enhanced: '5.6.0' });
    expect(err.message).toContain('mbox "From " line');
  });
});
