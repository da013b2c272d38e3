/**
 * Recipients for the envelope tests: a Behörden-PKI-shaped hierarchy with
 * encryption certificates (RSA-2048, RSA-3072, P-256), a combined
 * certificate and a sign-only one, written as PEM, key and PKCS #12 files
 * for the peers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRootCa, issueCa, issueMailbox, type Issued, type KeySpec, type MailboxUsage } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';

export const P12_PASSWORD = 'pass';

export interface Recipient {
  readonly name: string;
  readonly email: string;
  readonly issued: Issued;
  readonly certPem: string;
  readonly keyPem: string;
  readonly p12: string;
}

export interface Fixtures {
  readonly dir: string;
  readonly rootPem: string;
  readonly caPem: string;
  readonly root: Issued;
  readonly ca: Issued;
  readonly rsa2048: Recipient;
  readonly rsa3072: Recipient;
  readonly p256: Recipient;
  readonly p384: Recipient;
  readonly both: Recipient;
  readonly signOnly: Recipient;
}

export function file(dir: string, name: string, data: Buffer | string): string {
  const target = path.join(dir, name);
  writeFileSync(target, data);
  return target;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export function run(command: string, args: readonly string[], input?: Buffer): RunResult {
  const result = spawnSync(command, args, { input, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString('utf8') };
}

/** Runs and fails the test with the tool's stderr when it exits non-zero. */
export function runOk(command: string, args: readonly string[], input?: Buffer): Buffer {
  const result = run(command, args, input);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

export function readBytes(name: string): Buffer {
  return readFileSync(name);
}

async function recipient(dir: string, ca: Issued, caPem: string, name: string, keySpec: KeySpec, usage: MailboxUsage): Promise<Recipient> {
  const email = `${name}@stadt.example`;
  const issued = await issueMailbox(ca, {
    subject: [['C', 'DE'], ['O', 'Stadt Test'], ['CN', `Mailbox ${name}`]],
    email,
    keySpec,
    usage,
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2036-01-01T00:00:00Z'),
  });
  const certPem = file(dir, `${name}.pem`, toPem('CERTIFICATE', issued.certificate));
  const keyPem = file(dir, `${name}.key`, issued.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const p12 = path.join(dir, `${name}.p12`);
  runOk('openssl', ['pkcs12', '-export', '-in', certPem, '-inkey', keyPem, '-certfile', caPem, '-name', name, '-passout', `pass:${P12_PASSWORD}`, '-out', p12]);
  return { name, email, issued, certPem, keyPem, p12 };
}

let fixtures: Promise<Fixtures> | undefined;

export function envelopeFixtures(): Promise<Fixtures> {
  fixtures ??= (async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'siegel-envelope-'));
    const validity = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') };
    const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', 'Envelope Test Root']], keySpec: 'rsa2048', ...validity });
    const ca = await issueCa(root, { subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', 'Envelope Test CA']], keySpec: 'rsa2048', ...validity });
    const rootPem = file(dir, 'root.pem', toPem('CERTIFICATE', root.certificate));
    const caPem = file(dir, 'ca.pem', toPem('CERTIFICATE', ca.certificate));
    const [rsa2048, rsa3072, p256, p384, both, signOnly] = await Promise.all([
      recipient(dir, ca, caPem, 'rsa2048', 'rsa2048', 'encrypt'),
      recipient(dir, ca, caPem, 'rsa3072', 'rsa3072', 'encrypt'),
      recipient(dir, ca, caPem, 'p256', 'p256', 'encrypt'),
      recipient(dir, ca, caPem, 'p384', 'p384', 'encrypt'),
      recipient(dir, ca, caPem, 'both', 'p256', 'both'),
      recipient(dir, ca, caPem, 'signonly', 'rsa2048', 'sign'),
    ]);
    return { dir, rootPem, caPem, root, ca, rsa2048, rsa3072, p256, p384, both, signOnly };
  })();
  return fixtures;
}

/** A MIME entity with binary-looking bytes in it, so any transformation by a peer shows. */
/** Removes the files of one test file's fixtures (each jest test file has its own module instance). */
export async function removeFixtures(): Promise<void> {
  if (fixtures) rmSync((await fixtures).dir, { recursive: true, force: true });
}

export function sampleContent(size = 5000): Buffer {
  const head = Buffer.from('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n', 'ascii');
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = (i * 31 + 7) % 256;
  return Buffer.concat([head, body]);
}

export function keyOf(r: Recipient): { certificate: Buffer; privateKey: Issued['privateKey'] } {
  return { certificate: r.issued.certificate, privateKey: r.issued.privateKey };
}
