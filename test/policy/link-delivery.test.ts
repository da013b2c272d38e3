/**
 * onMissingCertificate: link through `siegel outbound` (src/cli.ts main, in
 * process): a rule requires encryption, the recipient has no certificate,
 * so the signed message is stored in the large-file exchange behind a
 * password, the recipient gets a notice with the link, and the sender gets
 * the password by mail (the submission next hop, a Maildir here). The link
 * with that password returns exactly the stored message, whose signature
 * OpenSSL verifies against the issuing root.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { runSiegel, type CliResult } from '../cli/run-siegel.js';
import { loadConfig } from '../../src/config/load.js';
import { openKeystore } from '../../src/keystore/open.js';
import { createLogger } from '../../src/log.js';
import { createRootCa, issueMailbox } from '../../src/pki/generate.js';
import { openTransferService } from '../../src/transfer/open.js';
import { openssl } from '../pipeline/encrypt-fixtures.js';
import { headerBlock, mail } from './outbound-fixtures.js';
import { lines, policyDir } from './policy-dir.js';

const SENDER = 'vertraulich@stadt.example';
const CITIZEN = 'buerger@example.org';
const RULE = 'confidential mail never in clear';
const AT = new Date('2026-11-23T09:00:00Z');
const THREE_DAYS = 3 * 86_400_000;

let dir: string;
let policies: string;
let configFile: string;
let rootPem: string;

async function outbound(from: string, to: string, input: Buffer): Promise<CliResult> {
  return runSiegel(['outbound', '--config', configFile, '--from', from, '--to', to], { stdin: input, env: { SIEGEL_LOG__LEVEL: 'info' }, now: AT });
}

/** Quoted-printable (RFC 2045) as the gateway writes it: soft breaks and =XX escapes. */
function decodeQuotedPrintable(encoded: Buffer): Buffer {
  const text = encoded.toString('latin1').replace(/=\r?\n/g, '');
  return Buffer.from(text.replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
}

/** The body of a single-part QP text message, decoded. */
function qpText(message: Buffer): string {
  const start = message.indexOf('\r\n\r\n') + 4;
  return decodeQuotedPrintable(message.subarray(start)).toString('utf8');
}

/** The text/plain part of the notice (inside the signature), decoded. */
function noticeText(notice: Buffer): string {
  const text = notice.toString('latin1');
  const at = text.indexOf('Content-Type: text/plain; charset=utf-8');
  const body = text.indexOf('\r\n\r\n', at) + 4;
  const end = text.indexOf('\r\n--=_siegel-link-', body);
  return decodeQuotedPrintable(Buffer.from(text.slice(body, end), 'latin1')).toString('utf8');
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function passwordMails(): Buffer[] {
  const dirNew = path.join(dir, 'data', 'mail', 'outbound', 'new');
  return readdirSync(dirNew).map((f) => readFileSync(path.join(dirNew, f)));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-link-'));
  policies = policyDir({
    '10-link.yaml': lines(
      'rules:',
      `  - name: ${RULE}`,
      `    match: { direction: outbound, from: [${SENDER}] }`,
      '    encrypt: required',
      '    onMissingCertificate: link',
      '    largeFiles: { expiry: 3d }',
    ),
  });
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'master.key'), 'q'.repeat(44), { mode: 0o600 });
  configFile = path.join(dir, 'siegel.yaml');
  writeFileSync(configFile, `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\npolicies: ${policies}\ninternalDomains: [stadt.example]\nweb:\n  publicUrl: https://dateien.stadt.example\n`);
  const keystore = openKeystore(loadConfig({ file: configFile, env: {} }), {}, () => AT);
  const root = await createRootCa({ subject: [['CN', 'Link Test Root']], keySpec: 'p256', notBefore: new Date(AT.getTime() - 86_400_000) });
  rootPem = path.join(dir, 'root.pem');
  writeFileSync(rootPem, new X509Certificate(root.certificate).toString());
  const leaf = await issueMailbox(root, { subject: [['CN', SENDER]], email: SENDER, keySpec: 'p256', notBefore: new Date(AT.getTime() - 86_400_000) });
  await keystore.importIdentity({ mailbox: SENDER, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [] }, AT);
  await keystore.close();
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(policies, { recursive: true, force: true });
});

describe('onMissingCertificate: link', () => {
  it('delivers a signed notice with the link, mails the sender the password, and the link returns the signed message', async () => {
    const input = mail(SENDER, CITIZEN);
    const result = await outbound(SENDER, CITIZEN, input);
    expect(result.stderr).not.toMatch(/siegel outbound:/);
    expect(result.code).toBe(0);

    // The notice: the message's address fields and date, a prefixed subject, a new Message-ID, signed by the sender.
    const notice = result.stdout;
    const header = headerBlock(notice);
    expect(header).toMatch(/^Content-Type: multipart\/signed;/im);
    expect(header).toMatch(new RegExp(`^From: <${SENDER}>$`, 'm'));
    expect(header).toMatch(new RegExp(`^To: <${CITIZEN}>$`, 'm'));
    expect(header).toMatch(/^Date: Mon, 04 May 2026 10:00:00 \+0200$/m);
    expect(header).toMatch(/^Subject: \[Sichere Nachricht\] Bescheid$/m);
    expect(header).not.toContain('policy-test@stadt.example');
    const noticeVerified = openssl(dir, ['cms', '-verify', '-CAfile', rootPem, '-purpose', 'any'], notice);
    expect(noticeVerified.stderr).toContain('Verification successful');
    const text = noticeText(notice);
    const link = /https:\/\/dateien\.stadt\.example\/d\/[A-Za-z0-9_-]+/.exec(text)?.[0];
    expect(link).toBeDefined();
    expect(text).toContain(`${SENDER} hat Ihnen eine vertrauliche Nachricht gesendet`);
    expect(text).toContain(`${SENDER} sent you a confidential message`);
    expect(text).toContain('The link expires on 2026-11-26 09:00 UTC.');
    expect(noticeVerified.stdout.toString('latin1')).not.toContain('Grüße aus dem Rathaus');

    // The log names the share by id only: never the link's token nor the password.
    const token = (link as string).slice((link as string).lastIndexOf('/') + 1);
    const log = result.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'outbound filter');
    // offload: the exchange is open for the link, the message has no large attachment.
    expect(log).toMatchObject({ actions: ['policy:rule', 'offload:none', 'sign:signed', 'encrypt:link'], details: { encrypt: { rule: RULE, without: 1, notice: 'signed' } } });
    const shareId = ((log?.details as Record<string, Record<string, unknown>>).encrypt as Record<string, unknown>).share;
    expect(typeof shareId).toBe('string');
    expect(result.stderr).not.toContain(token);

    // The password mail to the sender, through the submission next hop (the Maildir), signed by nobody (siegel@ is not enrolled).
    const mails = passwordMails();
    expect(mails).toHaveLength(1);
    const passwordMail = mails[0] as Buffer;
    expect(headerBlock(passwordMail)).toMatch(new RegExp(`^To: ${SENDER}$`, 'm'));
    const passwordText = qpText(passwordMail);
    expect(passwordText).toContain(`an ${CITIZEN} wurde als sicherer Link zugestellt`);
    expect(passwordText).not.toContain(token);
    const password = /^ {4}([A-Za-z0-9]{20})$/m.exec(passwordText)?.[1];
    expect(password).toMatch(/^[A-HJ-NP-Za-km-z2-9]{20}$/);
    expect(result.stderr).not.toContain(password);

    const config = loadConfig({ file: configFile, env: {} });
    const transfer = openTransferService(config, { logger: createLogger('error', new PassThrough()), now: () => AT });
    try {
      // Wrong or no password: no content.
      expect((await transfer.download(token, { password: 'A'.repeat(20) })).status).toBe('password-required');
      expect((await transfer.download(token, {})).status).toBe('password-required');
      const download = await transfer.download(token, { password: password as string });
      expect(download.status).toBe('ok');
      if (download.status !== 'ok') return;
      expect(download.info).toMatchObject({ id: shareId, owner: SENDER, fileName: 'Nachricht.eml', contentType: 'message/rfc822', passwordRequired: true });
      expect(download.info.expiresAt.getTime()).toBe(AT.getTime() + THREE_DAYS);
      const stored = await readStream(download.stream);
      expect(stored.length).toBe(download.info.size);
      // The stored message is the signed original: OpenSSL verifies it against the root, and its content is the input's text.
      expect(headerBlock(stored)).toMatch(/^Subject: Bescheid$/m);
      expect(headerBlock(stored)).toMatch(/^Message-ID: <policy-test@stadt\.example>$/m);
      const verified = openssl(dir, ['cms', '-verify', '-CAfile', rootPem, '-purpose', 'any'], stored);
      expect(verified.stderr).toContain('Verification successful');
      // Signing made the 8-bit text quoted-printable; decoded, it is the input's body exactly.
      expect(qpText(verified.stdout)).toBe(input.subarray(input.indexOf('\r\n\r\n') + 4).toString('utf8'));
    } finally {
      await transfer.close();
    }
  }, 60_000);
});
