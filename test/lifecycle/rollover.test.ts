/**
 * Renewal and rollover of an own mailbox, through the CLI at fixed clocks:
 * the renewal is imported ahead of time, signs exactly from its notBefore
 * on (keystore and `siegel outbound`, checked by openssl cms -verify), the
 * old key keeps decrypting mail openssl encrypted to the old certificate
 * (`siegel inbound`), also after it expired, and `siegel certs list` shows
 * which one is in use, superseded or renewed.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openKeystore } from '../../src/keystore/open.js';
import { loadConfig } from '../../src/config/load.js';
import type { Issued } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { mailboxCert, testPki, type TestPki } from '../pki/test-pki.js';
import { gatewayDir, siegel, type GatewayDir } from './helpers.js';

const MAILBOX = 'poststelle@stadt.example';
const IMPORTED_AT = new Date('2027-01-10T09:00:00Z');
const RENEWAL_FROM = new Date('2027-02-01T00:00:00Z');
const OLD_UNTIL = new Date('2027-02-05T00:00:00Z');

let pki: TestPki;
let old: Issued;
let renewed: Issued;
let gw: GatewayDir;
let oldFiles: ReturnType<GatewayDir['pem']>;
let newFiles: ReturnType<GatewayDir['pem']>;

beforeAll(async () => {
  pki = await testPki('p256');
  old = await mailboxCert(pki, { email: MAILBOX, usage: 'both', keySpec: 'p256', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: OLD_UNTIL });
  renewed = await mailboxCert(pki, { email: MAILBOX, usage: 'both', keySpec: 'p256', notBefore: RENEWAL_FROM, notAfter: new Date('2030-02-01T00:00:00Z') });
  gw = gatewayDir(pki);
  oldFiles = gw.pem('old', old);
  newFiles = gw.pem('renewed', renewed);
  for (const files of [oldFiles, newFiles]) {
    const result = await siegel(['enroll', 'import', '--config', gw.config, '--mailbox', MAILBOX, '--cert', files.cert, '--key', files.key, '--chain', files.chain], { now: IMPORTED_AT });
    expect(result.stderr).not.toMatch(/refused|rejected|not valid before/);
    expect(result.code).toBe(0);
  }
}, 60_000);

function fingerprint(der: Buffer): string {
  return execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-fingerprint', '-sha256'], { input: der }).toString().trim();
}

function message(): Buffer {
  return Buffer.from(
    `From: Poststelle <${MAILBOX}>\r\nTo: <buerger@example.org>\r\nSubject: Bescheid\r\nDate: Mon, 01 Feb 2027 10:00:00 +0100\r\n` +
      'Message-ID: <rollover@stadt.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSehr geehrte Damen und Herren,\r\nanbei der Bescheid.\r\n',
  );
}

/** The certificate that signed a message `siegel outbound` wrote at `now`, as openssl reports it (verified at that time). */
async function signerAt(now: Date): Promise<Buffer> {
  const result = await siegel(['outbound', '--config', gw.config], { now, stdin: message() });
  expect(result.code).toBe(0);
  const signed = path.join(gw.dir, `signed-${now.getTime()}.eml`);
  const signer = path.join(gw.dir, `signer-${now.getTime()}.pem`);
  const ca = path.join(gw.dir, 'ca-bundle.pem');
  writeFileSync(signed, result.stdout);
  writeFileSync(ca, toPem('CERTIFICATE', pki.root.certificate));
  execFileSync('openssl', ['cms', '-verify', '-in', signed, '-CAfile', ca, '-attime', String(Math.floor(now.getTime() / 1000)), '-signer', signer, '-out', '/dev/null'], { stdio: 'pipe' });
  return execFileSync('openssl', ['x509', '-in', signer, '-outform', 'DER']);
}

describe('a renewed certificate signs exactly from its notBefore', () => {
  it('keystore: the old identity up to the millisecond before, the renewal from then on', async () => {
    const config = loadConfig({ file: gw.config, env: {} });
    const keystore = openKeystore(config, {}, () => IMPORTED_AT);
    try {
      const before = await keystore.signingIdentity(MAILBOX, new Date(RENEWAL_FROM.getTime() - 1));
      const from = await keystore.signingIdentity(MAILBOX, RENEWAL_FROM);
      expect(before?.certificate.equals(old.certificate)).toBe(true);
      expect(before?.encryptionCertificate?.equals(old.certificate)).toBe(true);
      expect(from?.certificate.equals(renewed.certificate)).toBe(true);
      expect(from?.encryptionCertificate?.equals(renewed.certificate)).toBe(true);
    } finally {
      await keystore.close();
    }
  });

  it('siegel outbound: openssl verifies the old signer before and the renewed signer after', async () => {
    expect(fingerprint(await signerAt(new Date('2027-01-31T23:59:00Z')))).toBe(fingerprint(old.certificate));
    expect(fingerprint(await signerAt(new Date('2027-02-01T00:01:00Z')))).toBe(fingerprint(renewed.certificate));
  }, 30_000);

  it('a not yet valid certificate is still refused for a mailbox without a valid identity', async () => {
    const other = await mailboxCert(pki, { email: 'info@stadt.example', usage: 'both', keySpec: 'p256', notBefore: RENEWAL_FROM });
    const files = gw.pem('info', other);
    const result = await siegel(['enroll', 'import', '--config', gw.config, '--mailbox', 'info@stadt.example', '--cert', files.cert, '--key', files.key], { now: IMPORTED_AT });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/is not valid before 2027-02-01T00:00:00.000Z/);
  });
});

describe('the old key keeps decrypting mail encrypted to the old certificate', () => {
  const encryptedTo = (files: { cert: string }, subject: string): Buffer => {
    const plain = path.join(gw.dir, `plain-${subject}.txt`);
    writeFileSync(plain, `Content-Type: text/plain; charset=utf-8\r\n\r\nVertraulich: ${subject}\r\n`);
    return execFileSync('openssl', [
      'cms', '-encrypt', '-binary', '-crlfeol', '-in', plain, '-aes-256-cbc',
      '-from', 'rat@partner.example', '-to', MAILBOX, '-subject', subject, files.cert,
    ]);
  };

  it.each([
    ['after the rollover', new Date('2027-02-02T00:00:00Z')],
    ['after the old certificate expired', new Date('2027-03-01T00:00:00Z')],
  ])('%s', async (_label, now) => {
    for (const [files, name, key] of [[oldFiles, 'alt', old], [newFiles, 'neu', renewed]] as const) {
      const result = await siegel(['inbound', '--config', gw.config], { now, stdin: encryptedTo(files, name) });
      expect(result.code).toBe(0);
      const out = result.stdout.toString('latin1');
      expect(out).toMatch(new RegExp(`^X-Siegel-Encrypted: decrypted; [^\\r\\n]*for=${MAILBOX}`, 'm'));
      expect(out).toContain(`Vertraulich: ${name}`);
      expect(out).not.toMatch(/application\/(x-)?pkcs7-mime/);
      expect(key.certificate.length).toBeGreaterThan(0);
    }
  }, 30_000);
});

describe('siegel certs list marks the rollover', () => {
  interface Listed {
    id: string;
    serial: string;
    status: string;
    expiring: boolean;
    renewedBy: string | null;
    daysLeft: number;
  }
  const list = async (now: Date): Promise<Listed[]> => {
    const result = await siegel(['certs', 'list', '--config', gw.config, '--json'], { now });
    expect(result.code).toBe(0);
    return (JSON.parse(result.stdout.toString()) as Listed[]).filter((l) => l.serial !== null);
  };
  const serialOf = (leaf: Issued) => execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-serial'], { input: leaf.certificate }).toString().trim().replace(/^serial=/, '');

  it('before: the old one in use (expiring soon but renewed), the renewal not yet valid', async () => {
    const listing = await list(new Date('2027-01-20T00:00:00Z'));
    const oldRow = listing.find((l) => l.serial === serialOf(old));
    const newRow = listing.find((l) => l.serial === serialOf(renewed));
    expect(oldRow).toMatchObject({ status: 'in-use', expiring: false, renewedBy: newRow?.id, daysLeft: 16 });
    expect(newRow).toMatchObject({ status: 'not-yet-valid', expiring: false, renewedBy: null });
  });

  it('after: the renewal in use, the old one superseded, then expired; the table says so', async () => {
    const after = await list(new Date('2027-02-02T00:00:00Z'));
    expect(after.find((l) => l.serial === serialOf(old))).toMatchObject({ status: 'superseded', expiring: false });
    expect(after.find((l) => l.serial === serialOf(renewed))).toMatchObject({ status: 'in-use', expiring: false });
    const table = await siegel(['certs', 'list', '--config', gw.config], { now: new Date('2027-03-01T00:00:00Z') });
    const rows = table.stdout.toString().trimEnd().split('\n');
    expect(rows[0]).toMatch(/^MAILBOX +ROLE +STATE +SUBJECT +ISSUER +SERIAL +EXPIRES +DAYS LEFT +STATUS$/);
    const oldLine = rows.find((r) => r.includes(serialOf(old)));
    const newLine = rows.find((r) => r.includes(serialOf(renewed)));
    expect(oldLine?.split(/ {2,}/).slice(-3)).toEqual(['2027-02-05', 'expired', 'expired, renewed']);
    expect(newLine?.split(/ {2,}/).slice(-1)).toEqual(['in use']);
  });
});
