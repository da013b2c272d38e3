/** Shared fixtures for the S/MIME tests: a generated PKI, identities, a canonical entity, temp files. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SigningIdentity } from '../../src/keystore/identity.js';
import { createRootCa, issueCa, issueMailbox, type Issued, type KeySpec } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';

export interface TestPki {
  readonly root: Issued;
  readonly ca: Issued;
}

export async function createPki(keySpec: KeySpec = 'rsa2048'): Promise<TestPki> {
  const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', 'Test Verwaltungs-PKI Root']], keySpec });
  const ca = await issueCa(root, { subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', 'Test Behoerden-CA']], keySpec });
  return { root, ca };
}

/** A mailbox whose single certificate signs and encrypts ('both'). */
export async function combinedIdentity(pki: TestPki, keySpec: KeySpec, mailbox: string): Promise<SigningIdentity> {
  const leaf = await issueMailbox(pki.ca, { subject: [['C', 'DE'], ['O', 'Stadt Test'], ['CN', mailbox]], email: mailbox, keySpec, usage: 'both' });
  return { mailbox, certificate: leaf.certificate, chain: [pki.ca.certificate], privateKey: leaf.privateKey, encryptionCertificate: leaf.certificate };
}

/** A Behörden-PKI style mailbox: separate sign-only and encrypt-only certificates. */
export async function splitIdentity(
  pki: TestPki,
  keySpec: KeySpec,
  mailbox: string,
): Promise<{ identity: SigningIdentity; encryption: Issued }> {
  const subject = [['C', 'DE'], ['O', 'Stadt Test'], ['CN', mailbox]] as const;
  const signing = await issueMailbox(pki.ca, { subject, email: mailbox, keySpec, usage: 'sign' });
  const encryption = await issueMailbox(pki.ca, { subject, email: mailbox, keySpec, usage: 'encrypt' });
  return {
    identity: { mailbox, certificate: signing.certificate, chain: [pki.ca.certificate], privateKey: signing.privateKey, encryptionCertificate: encryption.certificate },
    encryption,
  };
}

/** A canonical (CRLF, 7-bit) multipart/mixed entity with a quoted-printable text and a base64 attachment. */
export function canonicalEntity(): Buffer {
  const attachment = Buffer.alloc(3000);
  for (let i = 0; i < attachment.length; i++) attachment[i] = (i * 7 + 3) % 256;
  const b64 = attachment.toString('base64').match(/.{1,76}/g)?.join('\r\n') ?? '';
  const lines = [
    'Content-Type: multipart/mixed; boundary="inner-boundary-42"',
    '',
    'This is a multi-part message in MIME format.',
    '--inner-boundary-42',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Sehr geehrte Damen und Herren,',
    '',
    'anbei der Bescheid. Gr=C3=BC=C3=9Fe aus dem Rathaus.',
    'From the line start, a dot:',
    '.',
    'Ende.',
    '--inner-boundary-42',
    'Content-Type: application/octet-stream; name="bescheid.bin"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="bescheid.bin"',
    '',
    b64,
    '--inner-boundary-42--',
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'ascii');
}

export const OUTER_HEADERS = Buffer.from(
  [
    'From: Poststelle <poststelle@stadt.example>',
    'To: Buerger <buerger@example.org>',
    'Subject: Bescheid',
    'Date: Tue, 03 Mar 2026 10:00:00 +0100',
    'Message-ID: <smime-test@stadt.example>',
    '',
  ].join('\r\n'),
  'ascii',
);

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `siegel-${prefix}-`));
}

export function writePem(dir: string, name: string, der: Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, toPem('CERTIFICATE', der));
  return file;
}

export function writeFile(dir: string, name: string, data: Buffer | readonly Buffer[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.isBuffer(data) ? data : Buffer.concat(data));
  return file;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a peer tool without a shell; never throws on a non-zero exit so tests can assert on it. */
export function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: Buffer } = {}): RunResult {
  const result = spawnSync(command, args, { env: options.env ?? process.env, input: options.input, timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
}
