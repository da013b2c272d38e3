/**
 * Test PKI and real-peer artefacts shared by the pki, keystore and command
 * tests: a Behörden-PKI-shaped hierarchy at fixed dates (rule 5), PEM files
 * on disk, and PKCS#12 files made by the openssl command.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRootCa, issueCa, issueMailbox, type Issued, type KeySpec, type MailboxOptions } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';

/** Mailbox certificates default to this validity; tests run at AT. */
export const VALID_FROM = new Date('2026-01-01T00:00:00Z');
export const VALID_TO = new Date('2029-01-01T00:00:00Z');
export const AT = new Date('2027-01-01T00:00:00Z');

export interface TestPki {
  readonly root: Issued;
  readonly ca: Issued;
}

const pkis = new Map<KeySpec, Promise<TestPki>>();

/** One hierarchy per key type and test file (RSA key generation is slow). */
export function testPki(keySpec: KeySpec = 'rsa2048'): Promise<TestPki> {
  let pki = pkis.get(keySpec);
  if (!pki) {
    pki = (async () => {
      const root = await createRootCa({
        subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', `Test Root ${keySpec}`]],
        keySpec,
        notBefore: new Date('2025-01-01T00:00:00Z'),
        notAfter: new Date('2040-01-01T00:00:00Z'),
      });
      const ca = await issueCa(root, {
        subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', `Test Issuing CA ${keySpec}`]],
        keySpec,
        notBefore: new Date('2025-01-01T00:00:00Z'),
        notAfter: new Date('2035-01-01T00:00:00Z'),
      });
      return { root, ca };
    })();
    pkis.set(keySpec, pki);
  }
  return pki;
}

export function mailboxCert(pki: TestPki, options: Partial<MailboxOptions> & { email: MailboxOptions['email'] }): Promise<Issued> {
  const first = typeof options.email === 'string' ? options.email : (options.email[0] ?? 'x');
  return issueMailbox(pki.ca, {
    subject: [['C', 'DE'], ['O', 'Stadt Test'], ['CN', `Mailbox ${first}`]],
    keySpec: 'rsa2048',
    notBefore: VALID_FROM,
    notAfter: VALID_TO,
    ...options,
  });
}

export function tempDir(prefix = 'siegel-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface PemFiles {
  readonly cert: string;
  readonly key: string;
  readonly chain: string;
}

/** Writes leaf certificate, PKCS#8 key and chain (issuing CA, then root) as PEM files. */
export function writePemFiles(dir: string, name: string, leaf: Issued, pki: TestPki): PemFiles {
  const files = {
    cert: path.join(dir, `${name}.crt`),
    key: path.join(dir, `${name}.key`),
    chain: path.join(dir, `${name}-chain.pem`),
  };
  writeFileSync(files.cert, toPem('CERTIFICATE', leaf.certificate));
  writeFileSync(files.key, leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.chain, toPem('CERTIFICATE', pki.ca.certificate) + toPem('CERTIFICATE', pki.root.certificate));
  return files;
}

export type P12Flavour = 'modern' | 'legacy';

/**
 * `openssl pkcs12 -export`: modern = OpenSSL 3 default (PBES2/AES-256-CBC,
 * SHA-256 MAC); legacy = `-legacy` (RC2-40 for certificates, 3DES for the
 * key, SHA-1 MAC), as Windows and old OpenSSL write them.
 */
export function opensslPkcs12(
  dir: string,
  name: string,
  leaf: Issued,
  pki: TestPki,
  passphrase: string,
  flavour: P12Flavour,
  extraArgs: readonly string[] = [],
): Buffer {
  const files = writePemFiles(dir, name, leaf, pki);
  const passFile = path.join(dir, `${name}.pass`);
  writeFileSync(passFile, `${passphrase}\n`);
  const out = path.join(dir, `${name}.p12`);
  execFileSync('openssl', [
    'pkcs12', '-export',
    '-in', files.cert, '-inkey', files.key, '-certfile', files.chain,
    '-name', name, '-passout', `file:${passFile}`, '-out', out,
    ...(flavour === 'legacy' ? ['-legacy'] : []),
    ...extraArgs,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  return readFileSync(out);
}

/** What `openssl pkcs12 -info` says about a file (it writes the details to stderr). */
export function opensslPkcs12Describe(file: Buffer, dir: string, passphrase: string): string {
  const p12 = path.join(dir, `describe-${Math.random().toString(16).slice(2)}.p12`);
  writeFileSync(p12, file);
  const passFile = `${p12}.pass`;
  writeFileSync(passFile, passphrase);
  const result = spawnSync('openssl', ['pkcs12', '-in', p12, '-info', '-noout', '-legacy', '-passin', `file:${passFile}`]);
  return `${result.stdout.toString()}${result.stderr.toString()}`;
}
