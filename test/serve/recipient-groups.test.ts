/**
 * DESIGN rule 3: one DATA has one answer, so recipients that need another
 * treatment (here: an opaque signature for a partner whose system strips
 * multipart/signed) are answered 452 4.5.3 at RCPT time and sent by the
 * client in a new transaction. Nothing is delivered twice or left out.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { openKeystore } from '../../src/keystore/open.js';
import { silentLogger } from '../../src/log.js';
import { getHeader, splitHeaderBody } from '../../src/mime/headers.js';
import { createRootCa, issueMailbox } from '../../src/pki/generate.js';
import { sampleMessage, sendMail, startFakeNextHop, tempDir, type FakeNextHop } from '../smtp/helpers.js';

const mailbox = 'amt@stadt.example';
let dir: string;
let hop: FakeNextHop;
let server: ServeHandle;

beforeAll(async () => {
  dir = tempDir('siegel-groups-');
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'master.key'), 'g'.repeat(44), { mode: 0o600 });
  hop = await startFakeNextHop();
  writeFileSync(
    path.join(dir, 'siegel.yaml'),
    `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\nsmtp:\n  submission:\n    listen: 127.0.0.1:0\n    relay: ${hop.url}\nsigning:\n  opaqueFor: [partner.example]\n`,
  );
  const config = loadConfig({ file: path.join(dir, 'siegel.yaml'), env: {} });
  const root = await createRootCa({ subject: [['CN', 'Groups Root']], keySpec: 'p256' });
  const leaf = await issueMailbox(root, { subject: [['CN', 'Amt']], email: mailbox, keySpec: 'p256' });
  const keystore = openKeystore(config, {}, () => new Date());
  await keystore.importIdentity({ mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [] }, new Date());
  await keystore.close();
  server = await startServer({ config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger: silentLogger(), now: () => new Date() });
});

afterAll(async () => {
  await server.stop();
  await hop.stop();
  rmSync(dir, { recursive: true, force: true });
});

function contentType(raw: Buffer | undefined): string {
  return getHeader(splitHeaderBody(raw ?? Buffer.alloc(0)).header, 'content-type') ?? '';
}

describe('recipients with different treatment', () => {
  it('accepts only the first group in a transaction; the other recipients get 452 4.5.3 and go in the next one', async () => {
    const raw = sampleMessage(); // From: Amt <amt@stadt.example>
    const first = await sendMail(server.ports.submission, { from: mailbox, to: ['a@partner.example', 'b@elsewhere.example', 'c@partner.example'], raw });
    expect(first.accepted).toEqual(['a@partner.example', 'c@partner.example']);
    expect(first.rejected).toEqual(['b@elsewhere.example']);
    expect(hop.received).toHaveLength(1);
    expect(hop.received[0]?.rcptTo).toEqual(['a@partner.example', 'c@partner.example']);
    expect(contentType(hop.received[0]?.raw)).toMatch(/^application\/pkcs7-mime; smime-type=signed-data/);

    const second = await sendMail(server.ports.submission, { from: mailbox, to: first.rejected, raw });
    expect(second.ok).toBe(true);
    expect(hop.received).toHaveLength(2);
    expect(hop.received[1]?.rcptTo).toEqual(['b@elsewhere.example']);
    expect(contentType(hop.received[1]?.raw)).toMatch(/^multipart\/signed;/);
  });
});
