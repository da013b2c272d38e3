/**
 * Shared set-up for the verification tests: a generated PKI at fixed dates
 * (rule 5), its files on disk for the real peers, and runners for the
 * signers under test (openssl cms, gpgsm, NSS cmsutil, Python cryptography).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRootCa, issueCa, issueMailbox, type Issued, type MailboxOptions } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { trustStoreFromDer, type TrustAnchor } from '../../src/pki/trust-store.js';

export const AT = new Date('2027-01-01T00:00:00Z');
export const VALID_FROM = new Date('2026-01-01T00:00:00Z');
export const VALID_TO = new Date('2029-01-01T00:00:00Z');

export interface Pki {
  readonly root: Issued;
  readonly ca: Issued;
  readonly anchors: readonly TrustAnchor[];
}

export async function createPki(name = 'Test Root'): Promise<Pki> {
  const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', name]], keySpec: 'rsa2048', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
  const ca = await issueCa(root, { subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', `${name} Issuing CA`]], keySpec: 'rsa2048', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') });
  return { root, ca, anchors: trustStoreFromDer([root.certificate]).anchors };
}

export function mailbox(issuer: Issued, options: Partial<MailboxOptions> & { email: string }): Promise<Issued> {
  return issueMailbox(issuer, { subject: [['C', 'DE'], ['O', 'Stadt Test'], ['CN', options.email]], keySpec: 'rsa2048', usage: 'sign', notBefore: VALID_FROM, notAfter: VALID_TO, ...options });
}

export function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'siegel-verify-'));
}

export interface SignerFiles {
  readonly cert: string;
  readonly key: string;
  readonly chain: string;
}

export function writeSigner(dir: string, name: string, leaf: { certificate: Buffer; privateKey: Issued['privateKey'] }, chain: readonly Buffer[]): SignerFiles {
  const files = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`), chain: path.join(dir, `${name}-chain.pem`) };
  writeFileSync(files.cert, toPem('CERTIFICATE', leaf.certificate));
  writeFileSync(files.key, leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.chain, chain.map((der) => toPem('CERTIFICATE', der)).join(''));
  return files;
}

/** A canonical MIME entity (CRLF), what multipart/signed carries as its first part. */
export function entity(text = 'Sehr geehrte Damen und Herren,\r\n\r\nanbei der Bescheid.\r\n'): Buffer {
  return Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${text}`, 'utf8');
}

/** `openssl cms -sign` in DER; detached unless -nodetach is among the extra arguments. */
export function opensslSign(dir: string, signer: SignerFiles, content: Buffer, extra: readonly string[] = [], withChain = true): Buffer {
  const input = path.join(dir, `in-${Math.random().toString(16).slice(2)}`);
  writeFileSync(input, content);
  const out = `${input}.der`;
  execFileSync('openssl', ['cms', '-sign', '-binary', '-in', input, '-signer', signer.cert, '-inkey', signer.key, ...(withChain ? ['-certfile', signer.chain] : []), '-outform', 'DER', '-out', out, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  return readFileSync(out);
}

export function run(command: string, args: readonly string[], input?: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** PKCS#12 of the signer with its chain, by openssl (what gpgsm and pk12util import). */
export function pkcs12(dir: string, signer: SignerFiles, pass: string, legacy = false): string {
  const out = path.join(dir, 'signer.p12');
  run('openssl', ['pkcs12', '-export', '-in', signer.cert, '-inkey', signer.key, '-certfile', signer.chain, '-passout', `pass:${pass}`, '-out', out, '-name', 'signer', ...(legacy ? ['-legacy'] : [])]);
  return out;
}

/**
 * Imports a PKCS#12 file (empty passphrase) into gpgsm. gpgsm guesses the
 * passphrase's charset by trying one after another until the padding checks
 * out; now and then (about one file in a few hundred, depending on the
 * random salt) a wrong guess passes that check and the import fails. A fresh
 * file has a fresh salt, so up to three files are tried.
 */
export function gpgsmImportPkcs12(gpgsmArgs: readonly string[], makePkcs12: () => string): void {
  for (let attempt = 1; ; attempt++) {
    const imported = spawnSync('gpgsm', [...gpgsmArgs, '--import', makePkcs12()], { encoding: 'utf8' });
    if (imported.status === 0) return;
    if (attempt === 3) throw new Error(`gpgsm --import of a PKCS#12 file failed three times: ${imported.stderr}`);
  }
}

/** gpgsm --sign (detached, DER) with a private homedir; the agent is killed afterwards. */
export function gpgsmSignDetached(dir: string, signer: SignerFiles, content: Buffer): Buffer {
  const home = path.join(dir, 'gnupg');
  mkdirSync(home, { mode: 0o700 });
  chmodSync(home, 0o700);
  const base = ['--homedir', home, '--batch', '--disable-crl-checks', '--disable-dirmngr', '--pinentry-mode', 'loopback', '--passphrase', ''];
  try {
    // gpgsm (libksba) reads only the legacy 3DES/RC2 PKCS#12 encryption.
    gpgsmImportPkcs12(base, () => pkcs12(dir, signer, '', true));
    // The root is not in the PKCS#12; gpgsm wants the whole chain known and trusted to sign.
    const chainFile = signer.chain;
    run('gpgsm', [...base, '--import', chainFile]);
    const fingerprint = run('gpgsm', ['--homedir', home, '--batch', '--with-colons', '--list-secret-keys']).split('\n').find((l) => l.startsWith('fpr:'))?.split(':')[9] ?? '';
    // Trust the root (last certificate of the chain file) for S/MIME, as a user would in KMail.
    const last = readFileSync(chainFile, 'latin1').split('-----END CERTIFICATE-----').filter((b) => b.includes('BEGIN')).pop() ?? '';
    const rootFpr = new X509Certificate(`${last}-----END CERTIFICATE-----\n`).fingerprint;
    writeFileSync(path.join(home, 'trustlist.txt'), `${rootFpr} S relax\n`);
    const input = path.join(dir, 'gpgsm-in');
    writeFileSync(input, content);
    const out = path.join(dir, 'gpgsm-out.der');
    run('gpgsm', [...base, '--disable-policy-checks', '--include-certs', '-1', '--local-user', fingerprint, '--detach-sign', '--output', out, input]);
    return readFileSync(out);
  } finally {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
  }
}

/** NSS cmsutil -S (detached with -T) from a database the PKCS#12 was imported into; -Y NONE because the signer is sign-only (NSS would otherwise name it as encryption certificate and refuse). */
export function nssSign(dir: string, signer: SignerFiles, rootPem: string, content: Buffer, detached: boolean): Buffer {
  const db = path.join(dir, 'nssdb');
  mkdirSync(db);
  run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  // NSS signs only with a certificate it can validate for e-mail: trust the root first.
  run('certutil', ['-A', '-d', `sql:${db}`, '-n', 'root', '-t', 'C,C,C', '-a', '-i', rootPem]);
  run('pk12util', ['-i', pkcs12(dir, signer, 'pass'), '-d', `sql:${db}`, '-W', 'pass']);
  const input = path.join(dir, 'nss-in');
  writeFileSync(input, content);
  const out = path.join(dir, 'nss-out.der');
  run('cmsutil', ['-S', '-d', `sql:${db}`, '-N', 'signer', '-i', input, '-o', out, '-H', 'SHA256', '-Y', 'NONE', ...(detached ? ['-T'] : [])]);
  return readFileSync(out);
}

/** Python cryptography's PKCS7SignatureBuilder (DER; detached or with embedded content). */
export function pythonSign(dir: string, signer: SignerFiles, content: Buffer, detached: boolean): Buffer {
  const input = path.join(dir, 'py-in');
  writeFileSync(input, content);
  const out = path.join(dir, 'py-out.der');
  const script = `
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
cert = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
key = serialization.load_pem_private_key(open(sys.argv[2], 'rb').read(), None)
chain = x509.load_pem_x509_certificates(open(sys.argv[3], 'rb').read())
builder = pkcs7.PKCS7SignatureBuilder().set_data(open(sys.argv[4], 'rb').read()).add_signer(cert, key, hashes.SHA256())
for c in chain:
    builder = builder.add_certificate(c)
options = [pkcs7.PKCS7Options.Binary] + ([pkcs7.PKCS7Options.DetachedSignature] if sys.argv[6] == '1' else [])
open(sys.argv[5], 'wb').write(builder.sign(serialization.Encoding.DER, options))
`;
  run('python3', ['-c', script, signer.cert, signer.key, signer.chain, input, out, detached ? '1' : '0']);
  return readFileSync(out);
}
