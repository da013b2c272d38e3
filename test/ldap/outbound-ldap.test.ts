/**
 * `siegel outbound` with ldap.servers pointing at a real slapd: a recipient
 * whose certificate is only in the directory gets mail that `openssl cms
 * -decrypt` opens with her key (AES-256-CBC and RSA PKCS#1 v1.5 key
 * transport, as nothing is known about her client); a directory certificate
 * from a CA that is not configured is not used; a directory that is down
 * leaves the mail plain, with a warning, and exit code 0.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runSiegel, type CliResult } from '../cli/run-siegel.js';
import { createRootCa, issueCa, issueMailbox, type Issued } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { tempDir } from '../pki/test-pki.js';
import { personLdif, startSlapd, SUFFIX, type Slapd } from './slapd.js';

const AT = new Date('2027-01-01T00:00:00Z');
const SENDER = 'poststelle@stadt.example';
const RECIPIENT = 'erika.mustermann@partner.example';
const STRANGER = 'fremd@partner.example';

let slapd: Slapd;
let dir: string;
let recipient: Issued;


async function siegel(argv: readonly string[], stdinBytes: Buffer): Promise<CliResult> {
  // Info level: the filter commands log warnings only by default, and the tests read why a certificate was (not) used.
  return runSiegel(argv, { stdin: stdinBytes, env: { SIEGEL_LOG__LEVEL: 'info' }, now: AT });
}

function configFile(name: string, servers: readonly string[]): string {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    `dataDir: data
trustAnchors: trust
masterKeyFile: master.key
internalDomains: [stadt.example]
ldap:
  servers: [${servers.join(', ')}]
  baseDn: "${SUFFIX}"
  timeout: 3s
`,
  );
  return file;
}

function mail(to: string): Buffer {
  return Buffer.from(`From: Poststelle <${SENDER}>\r\nTo: <${to}>\r\nSubject: Ihr Antrag\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nIhr Antrag ist eingegangen. Grüße\r\n`, 'utf8');
}

beforeAll(async () => {
  dir = tempDir('siegel-ldap-outbound-');
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'master.key'), 'master-key-for-ldap-tests-0123456789\n', { mode: 0o600 });
  const validity = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') };
  const [started, root, otherRoot] = await Promise.all([
    startSlapd(),
    createRootCa({ subject: [['C', 'DE'], ['O', 'Verwaltung'], ['CN', 'Verwaltungs-PKI Root']], keySpec: 'p256', ...validity }),
    createRootCa({ subject: [['C', 'DE'], ['O', 'Verwaltung'], ['CN', 'Verwaltungs-PKI Root']], keySpec: 'p256', ...validity }),
  ]);
  slapd = started;
  writeFileSync(path.join(dir, 'trust', 'root.pem'), toPem('CERTIFICATE', root.certificate));
  const [ca, otherCa] = await Promise.all([
    issueCa(root, { subject: [['C', 'DE'], ['O', 'Verwaltung'], ['CN', 'Behoerden-PKI CA']], keySpec: 'p256', ...validity }),
    issueCa(otherRoot, { subject: [['C', 'DE'], ['O', 'Verwaltung'], ['CN', 'Behoerden-PKI CA']], keySpec: 'p256', ...validity }),
  ]);
  const mailboxValidity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') };
  recipient = await issueMailbox(ca, { subject: [['C', 'DE'], ['O', 'Partnerbehoerde'], ['CN', 'Erika Mustermann']], email: RECIPIENT, keySpec: 'rsa2048', usage: 'encrypt', ...mailboxValidity });
  const stranger = await issueMailbox(otherCa, { subject: [['C', 'DE'], ['O', 'Partnerbehoerde'], ['CN', 'Fremd']], email: STRANGER, keySpec: 'rsa2048', usage: 'encrypt', ...mailboxValidity });
  writeFileSync(path.join(dir, 'recipient.pem'), toPem('CERTIFICATE', recipient.certificate));
  writeFileSync(path.join(dir, 'recipient.key'), recipient.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  slapd.add(
    [
      personLdif(dir, { cn: 'Erika Mustermann', mail: RECIPIENT, certificates: [recipient.certificate], caCertificates: [ca.certificate] }),
      personLdif(dir, { cn: 'Fremd', mail: STRANGER, certificates: [stranger.certificate], caCertificates: [otherCa.certificate] }),
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await slapd?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('siegel outbound with an LDAP directory', () => {
  it('encrypts to a certificate found only in the directory; openssl opens it with the recipient key', async () => {
    const before = slapd.searches();
    const out = await siegel(['outbound', '--config', configFile('siegel.yaml', [slapd.url])], mail(RECIPIENT));
    expect(out.code).toBe(0);
    expect(slapd.searches()).toBe(before + 1);
    const text = out.stdout.toString('latin1');
    expect(text).toMatch(/^Content-Type: application\/pkcs7-mime; smime-type=enveloped-data/im);
    expect(text).not.toContain('Ihr Antrag ist eingegangen');
    expect(out.stderr).toContain('directory certificate found');

    const message = path.join(dir, 'encrypted.eml');
    writeFileSync(message, out.stdout);
    const printed = execFileSync('openssl', ['cms', '-cmsout', '-print', '-in', message]).toString('utf8');
    expect(printed).toMatch(/algorithm: aes-256-cbc/);
    expect(printed).toMatch(/keyEncryptionAlgorithm:\s*\n\s*algorithm: rsaEncryption/);
    const decrypted = execFileSync('openssl', ['cms', '-decrypt', '-in', message, '-recip', path.join(dir, 'recipient.pem'), '-inkey', path.join(dir, 'recipient.key')]);
    // Made 7-bit safe before encryption: the umlauts travel quoted-printable.
    expect(decrypted.toString('latin1')).toMatch(/^Content-Transfer-Encoding: quoted-printable/im);
    expect(decrypted.toString('latin1')).toContain('Ihr Antrag ist eingegangen. Gr=C3=BC=C3=9Fe');
  }, 60_000);

  it('does not encrypt to a directory certificate from a CA that is not a trust anchor', async () => {
    const out = await siegel(['outbound', '--config', configFile('siegel.yaml', [slapd.url])], mail(STRANGER));
    expect(out.code).toBe(0);
    expect(out.stdout.toString('latin1')).not.toMatch(/application\/pkcs7-mime/i);
    expect(out.stdout.toString('utf8')).toContain('Ihr Antrag ist eingegangen. Grüße');
    expect(out.stderr).toContain('"msg":"directory certificate not used"');
    expect(out.stderr).toMatch(/no trusted path \((untrusted-root|no-path|bad-chain-signature)/);
  }, 60_000);

  it('delivers plain mail with a warning when the directory is down, and asks again on the next message', async () => {
    await slapd.stop();
    let down: CliResult;
    try {
      down = await siegel(['outbound', '--config', configFile('siegel.yaml', [slapd.url])], mail(RECIPIENT));
    } finally {
      await slapd.start();
    }
    expect(down.code).toBe(0);
    expect(down.stdout.toString('latin1')).not.toMatch(/application\/pkcs7-mime/i);
    expect(down.stdout.toString('utf8')).toContain('Ihr Antrag ist eingegangen. Grüße');
    expect(down.stderr).toMatch(/"level":"warn".*"msg":"directory look-up failed/);

    const again = await siegel(['outbound', '--config', configFile('siegel.yaml', [slapd.url])], mail(RECIPIENT));
    expect(again.code).toBe(0);
    expect(again.stdout.toString('latin1')).toMatch(/^Content-Type: application\/pkcs7-mime/im);
  }, 60_000);
});
