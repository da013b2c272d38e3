/**
 * The whole loop of issue 3 as an administrator would run it with the
 * CLI on the demo set-up: a partner signs a mail with OpenSSL, `siegel
 * inbound` verifies it and keeps her certificate, and `siegel outbound` to
 * her then produces mail that `openssl cms -decrypt` opens with her key and
 * whose inner signature verifies. Spoofed and untrusted senders are never
 * harvested, so mail to them stays unencrypted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runSiegel, type CliResult } from '../cli/run-siegel.js';
import { createRootCa, issueCa, issueMailbox, type Issued } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';

const PARTNER = 'erika.mustermann@partner.example';
const MAILBOX = 'poststelle@musterstadt.example';

let dir: string;
let demo: string;


async function siegel(argv: readonly string[], stdinBytes: Buffer | string = ''): Promise<CliResult> {
  return runSiegel(argv, { stdin: stdinBytes });
}

function file(name: string, data: Buffer | string): string {
  const target = path.join(dir, name);
  writeFileSync(target, data);
  return target;
}

/** A mail signed by `openssl cms -sign` with From/To/Subject at the top level, as mail clients send it. */
function signedBy(cert: string, key: string, from: string, subject: string, chain?: string): Buffer {
  const body = file(`body-${subject}.txt`, 'Content-Type: text/plain; charset=utf-8\r\n\r\nSehr geehrte Damen und Herren,\r\nanbei mein Antrag.\r\n');
  return execFileSync('openssl', [
    'cms', '-sign', '-in', body, '-signer', cert, '-inkey', key, ...(chain ? ['-certfile', chain] : []),
    '-from', from, '-to', MAILBOX, '-subject', subject,
  ]);
}

function reply(to: string): Buffer {
  return Buffer.from(`From: Poststelle <${MAILBOX}>\r\nTo: <${to}>\r\nSubject: Ihr Antrag\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nIhr Antrag ist eingegangen. Grüße\r\n`, 'utf8');
}

function authResults(message: Buffer): string {
  const header = message.toString('latin1').split(/\r?\n\r?\n/)[0] ?? '';
  return /^Authentication-Results:.*(?:\r?\n[ \t].*)*/im.exec(header)?.[0].replace(/\r?\n[ \t]+/g, ' ') ?? '';
}

async function harvestedJson(): Promise<Array<{ address: string; fingerprint: string; state: string }>> {
  const listed = await siegel(['certs', 'list', '--harvested', '--json', '--demo', demo]);
  expect(listed.code).toBe(0);
  return JSON.parse(listed.stdout.toString('utf8')) as Array<{ address: string; fingerprint: string; state: string }>;
}

function fingerprintOf(pemFile: string): string {
  const text = execFileSync('openssl', ['x509', '-in', pemFile, '-noout', '-fingerprint', '-sha256']).toString();
  return (text.split('=')[1] ?? '').trim().replace(/:/g, '').toLowerCase();
}

let fakeRoot: Issued;
let fakeCa: Issued;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-reply-'));
  demo = path.join(dir, 'demo');
  // The first command creates the demo set-up (PKI, enrolled mailbox, partner key).
  const first = await siegel(['certs', 'list', '--demo', demo]);
  expect(first.code).toBe(0);
  fakeRoot = await createRootCa({ subject: [['C', 'DE'], ['O', 'Siegel Demo'], ['CN', 'Siegel Demo Root CA']], keySpec: 'rsa2048' });
  fakeCa = await issueCa(fakeRoot, { subject: [['C', 'DE'], ['O', 'Siegel Demo'], ['CN', 'Siegel Demo Issuing CA']], keySpec: 'rsa2048' });
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reply encryption after a verified message (siegel inbound, then siegel outbound)', () => {
  it('verifies and harvests the partner, then encrypts the reply so her key opens it and the inner signature verifies', async () => {
    const pki = path.join(demo, 'pki');
    const signed = signedBy(path.join(pki, 'partner.pem'), path.join(pki, 'partner.key'), `Erika Mustermann <${PARTNER}>`, 'Antrag', path.join(pki, 'issuing-ca.pem'));
    const checked = await siegel(['inbound', '--demo', demo], signed);
    expect(checked.code).toBe(0);
    expect(authResults(checked.stdout)).toMatch(/smime=pass .*reason="valid" body\.smime-identifier=erika\.mustermann@partner\.example/);
    expect(checked.stdout.toString('utf8')).toContain('anbei mein Antrag.');

    const kept = await harvestedJson();
    expect(kept).toEqual([expect.objectContaining({ address: PARTNER, state: 'active', fingerprint: fingerprintOf(path.join(pki, 'partner.pem')) })]);

    const out = await siegel(['outbound', '--demo', demo], reply(PARTNER));
    expect(out.code).toBe(0);
    const encrypted = out.stdout.toString('latin1');
    expect(encrypted).toMatch(/^Content-Type: application\/pkcs7-mime; smime-type=(enveloped-data|authEnveloped-data)/im);
    expect(encrypted).toMatch(/^Subject: Ihr Antrag/m);
    expect(encrypted).not.toContain('Ihr Antrag ist eingegangen');

    const decrypted = execFileSync('openssl', ['cms', '-decrypt', '-in', file('reply.eml', out.stdout), '-recip', path.join(pki, 'partner.pem'), '-inkey', path.join(pki, 'partner.key')]);
    expect(decrypted.toString('latin1')).toMatch(/^Content-Type: multipart\/signed/im);
    const inner = file('reply-inner.eml', Buffer.concat([Buffer.from(`From: ${MAILBOX}\r\n`), decrypted]));
    const verified = execFileSync('openssl', ['cms', '-verify', '-in', inner, '-CAfile', path.join(demo, 'trust', 'siegel-demo-root.pem'), '-purpose', 'smimesign'], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(verified.toString('utf8')).toContain('Ihr Antrag ist eingegangen');
  }, 120_000);

  it('keeps the genuine certificate when a look-alike CA signs for the same address', async () => {
    const before = await harvestedJson();
    const spoof = await issueMailbox(fakeCa, { subject: [['CN', 'Erika Mustermann']], email: PARTNER, keySpec: 'rsa2048', usage: 'both' });
    const cert = file('spoof.pem', toPem('CERTIFICATE', spoof.certificate));
    const key = file('spoof.key', spoof.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const chain = file('spoof-chain.pem', toPem('CERTIFICATE', fakeCa.certificate) + toPem('CERTIFICATE', fakeRoot.certificate));
    const checked = await siegel(['inbound', '--demo', demo], signedBy(cert, key, PARTNER, 'Spoof', chain));
    expect(checked.code).toBe(0);
    expect(authResults(checked.stdout)).toMatch(/smime=policy .*reason="(untrusted-root|bad-chain-signature|no-path)"/);
    expect(await harvestedJson()).toEqual(before);
  }, 60_000);

  it('never harvests an untrusted sender, so mail to it is signed but not encrypted', async () => {
    const stranger = await issueMailbox(fakeCa, { subject: [['CN', 'Mallory']], email: 'mallory@evil.example', keySpec: 'rsa2048', usage: 'both' });
    const cert = file('mallory.pem', toPem('CERTIFICATE', stranger.certificate));
    const key = file('mallory.key', stranger.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const chain = file('mallory-chain.pem', toPem('CERTIFICATE', fakeCa.certificate));
    const checked = await siegel(['inbound', '--demo', demo], signedBy(cert, key, 'mallory@evil.example', 'Hallo', chain));
    expect(authResults(checked.stdout)).toMatch(/smime=policy/);
    expect((await harvestedJson()).map((r) => r.address)).not.toContain('mallory@evil.example');

    const out = await siegel(['outbound', '--demo', demo], reply('mallory@evil.example'));
    expect(out.code).toBe(0);
    expect(out.stdout.toString('latin1')).toMatch(/^Content-Type: multipart\/signed/im);
    expect(out.stdout.toString('utf8')).toContain('Ihr Antrag ist eingegangen');
  }, 60_000);

  it('a forged Authentication-Results claiming our authserv-id is removed, and the real verdict is written', async () => {
    const forged = Buffer.concat([
      Buffer.from('Authentication-Results: siegel.musterstadt.example; smime=pass reason="valid"\r\n'),
      Buffer.from('Authentication-Results: mx.partner.example; spf=pass smtp.mailfrom=partner.example\r\n'),
      Buffer.from(`From: ${PARTNER}\r\nTo: ${MAILBOX}\r\nSubject: unsigniert\r\n\r\nkein S/MIME\r\n`),
    ]);
    const checked = await siegel(['inbound', '--demo', demo], forged);
    const text = checked.stdout.toString('latin1');
    expect(text.match(/^Authentication-Results: siegel\.musterstadt\.example;/gim)).toHaveLength(1);
    expect(authResults(checked.stdout)).toMatch(/smime=none .*reason="unsigned"/);
    expect(text).toContain('Authentication-Results: mx.partner.example; spf=pass');
    expect(readFileSync(path.join(demo, 'siegel.yaml'), 'utf8')).toContain('authservId: siegel.musterstadt.example');
  }, 60_000);
});
