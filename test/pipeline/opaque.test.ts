/**
 * Opaque signing (application/pkcs7-mime; smime-type=signed-data) for
 * recipients whose systems strip multipart/signed: chosen per recipient
 * domain or address, or for all mail.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { openKeystore } from '../../src/keystore/open.js';
import { getHeader, splitHeaderBody } from '../../src/mime/headers.js';
import { contiguous, pipelineMessage } from '../../src/pipeline/message.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { createRootCa, issueCa, issueMailbox } from '../../src/pki/generate.js';
import { createPeers, type Peers } from '../peers/verifiers.js';

const mailbox = 'bauamt@stadt.example';
const message = Buffer.from(
  `From: Bauamt <${mailbox}>\r\nTo: partner@partner.example\r\nSubject: Pl=?utf-8?q?=C3=A4ne?=\r\nMessage-ID: <opaque@stadt.example>\r\n` +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nDie Pläne liegen bei.\r\n',
);

let dir: string;
let keystore: Keystore;
let peers: Peers;
const now = new Date();

function pipelineWith(signing: Record<string, unknown>) {
  const config = loadConfig({
    values: { dataDir: path.join(dir, 'data'), trustAnchors: dir, masterKeyFile: path.join(dir, 'master.key'), signing },
    baseDir: dir,
    env: {},
  });
  return createOutboundPipeline({ config, identities: keystore, now: () => now });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-opaque-'));
  const root = await createRootCa({ subject: [['CN', 'Opaque Test Root']], keySpec: 'p256' });
  const ca = await issueCa(root, { subject: [['CN', 'Opaque Test CA']], keySpec: 'p256' });
  const leaf = await issueMailbox(ca, { subject: [['CN', 'Bauamt']], email: mailbox, keySpec: 'p256' });
  writeFileSync(path.join(dir, 'master.key'), 'o'.repeat(44), { mode: 0o600 });
  const config = loadConfig({ values: { dataDir: path.join(dir, 'data'), trustAnchors: dir, masterKeyFile: path.join(dir, 'master.key') }, baseDir: dir, env: {} });
  keystore = openKeystore(config, {}, () => now);
  await keystore.importIdentity({ mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [ca.certificate] }, now);
  peers = createPeers(root.certificate);
});

afterAll(async () => {
  await keystore.close();
  peers.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('opaque signing', () => {
  it('signs opaquely for a recipient domain listed in signing.opaqueFor, and the content survives', async () => {
    const pipeline = pipelineWith({ opaqueFor: ['partner.example'] });
    const result = await pipeline(pipelineMessage({ mailFrom: mailbox, rcptTo: ['partner@partner.example'] }, message), 'T1');
    expect(result.actions[0]?.action).toBe('signed-opaque');
    const output = contiguous(result.message);
    const header = splitHeaderBody(output).header;
    expect(getHeader(header, 'content-type')).toMatch(/^application\/pkcs7-mime; smime-type=signed-data/);
    expect(getHeader(header, 'subject')).toBe('Pl=?utf-8?q?=C3=A4ne?=');
    expect(getHeader(header, 'message-id')).toBe('<opaque@stadt.example>');
    const verified = peers.openssl(output);
    expect(verified.stderr).toContain('Verification successful');
    expect(verified.output.toString('utf8')).toContain('Die Pl=C3=A4ne liegen bei.');
  });

  it('signs with multipart/signed for other recipients', async () => {
    const pipeline = pipelineWith({ opaqueFor: ['partner.example'] });
    const result = await pipeline(pipelineMessage({ mailFrom: mailbox, rcptTo: ['someone@elsewhere.example'] }, message), 'T2');
    expect(result.actions[0]?.action).toBe('signed');
    expect(getHeader(splitHeaderBody(contiguous(result.message)).header, 'content-type')).toMatch(/^multipart\/signed;/);
  });

  it('signs every message opaquely with signing.mode opaque', async () => {
    const pipeline = pipelineWith({ mode: 'opaque' });
    const result = await pipeline(pipelineMessage({ mailFrom: mailbox, rcptTo: ['someone@elsewhere.example'] }, message), 'T3');
    expect(result.actions[0]?.action).toBe('signed-opaque');
    expect(peers.openssl(contiguous(result.message)).status).toBe(0);
  });

  it('leaves everything unsigned with signing.enabled false', async () => {
    const pipeline = pipelineWith({ enabled: false });
    const result = await pipeline(pipelineMessage({ mailFrom: mailbox, rcptTo: ['someone@elsewhere.example'] }, message), 'T4');
    expect(result.actions[0]?.action).toBe('disabled');
    expect(contiguous(result.message).equals(message)).toBe(true);
  });
});

describe('signing.includeChain', () => {
  it('leaves the issuing CA out when false', async () => {
    const count = async (includeChain: boolean) => {
      const result = await pipelineWith({ mode: 'opaque', includeChain })(pipelineMessage({ mailFrom: mailbox, rcptTo: ['a@b.example'] }, message), 'T5');
      const body = splitHeaderBody(contiguous(result.message)).body.toString('latin1').replace(/\s+/g, '');
      const der = Buffer.from(body, 'base64');
      const out = spawnSync('openssl', ['pkcs7', '-inform', 'DER', '-print_certs', '-noout'], { input: der }).stdout.toString();
      return (out.match(/^subject=/gm) ?? []).length;
    };
    expect(await count(true)).toBe(2);
    expect(await count(false)).toBe(1);
  });
});
