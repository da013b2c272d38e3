/**
 * `siegel certs import ADDR FILE`: a correspondent's certificate handed over
 * by other means is validated like a harvested one (path to a configured
 * anchor, encryption allowed, emailProtection, address in the SAN, valid,
 * not a CA), refused with exit 3 and a reason otherwise, kept under the
 * harvest rules (another anchor or an older certificate does not replace
 * the kept one without --force), and after it `siegel outbound` encrypts
 * to it: openssl cms -decrypt with the partner's key reads the mail.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { schemaMigrations, openDatabase } from '../../src/keystore/sqlite-database.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { createRootCa, issueCa, issueMailbox, type Issued } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { mailboxCert, tempDir, testPki, type TestPki } from '../pki/test-pki.js';
import { gatewayDir, opensslDecrypt, siegel, type GatewayDir } from './helpers.js';

const NOW = new Date('2027-01-01T00:00:00Z');
const PARTNER = 'rat@partner.example';
const SENDER = 'poststelle@stadt.example';

let pki: TestPki;
let second: TestPki;

beforeAll(async () => {
  pki = await testPki('p256');
  second = await testPki('p384');
}, 60_000);

function sha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** A gateway trusting the p256 and the p384 test roots, with an enrolled sender. */
async function gateway(): Promise<GatewayDir> {
  const gw = gatewayDir(pki);
  writeFileSync(path.join(gw.dir, 'trust', 'second-root.pem'), toPem('CERTIFICATE', second.root.certificate));
  const sender = await mailboxCert(pki, { email: SENDER, usage: 'both', keySpec: 'p256' });
  const files = gw.pem('sender', sender);
  const enrolled = await siegel(['enroll', 'import', '--config', gw.config, '--mailbox', SENDER, '--cert', files.cert, '--key', files.key, '--chain', files.chain], { now: NOW });
  expect(enrolled.code).toBe(0);
  return gw;
}

function write(gw: GatewayDir, name: string, content: string | Buffer): string {
  const file = path.join(gw.dir, name);
  writeFileSync(file, content);
  return file;
}

/** Leaf followed by its issuing CA, as PKIs hand them out. */
function chainPem(leaf: Issued, issuing: TestPki): string {
  return toPem('CERTIFICATE', leaf.certificate) + toPem('CERTIFICATE', issuing.ca.certificate);
}

function outboundTo(to: string): Buffer {
  return Buffer.from(
    `From: Poststelle <${SENDER}>\r\nTo: <${to}>\r\nSubject: Bescheid\r\nDate: Fri, 01 Jan 2027 10:00:00 +0100\r\nMessage-ID: <import@stadt.example>\r\n` +
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIhr Bescheid liegt bei.\r\n',
  );
}

async function show(gw: GatewayDir, address: string): Promise<{ encryptTo: string | null; harvested: Array<{ fingerprint: string; state: string; source: string }> }> {
  const result = await siegel(['certs', 'show', '--config', gw.config, '--json', address], { now: NOW });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout.toString()) as { encryptTo: string | null; harvested: Array<{ fingerprint: string; state: string; source: string }> };
}

describe('a valid certificate is imported and mail to the address leaves encrypted', () => {
  it('PEM with the issuing CA: imported, shown as the one replies are encrypted to, openssl decrypts the outbound mail', async () => {
    const gw = await gateway();
    const partner = await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256' });
    const before = await siegel(['outbound', '--config', gw.config], { now: NOW, stdin: outboundTo(PARTNER) });
    expect(before.stdout.toString('latin1')).not.toMatch(/application\/pkcs7-mime/);

    const result = await siegel(['certs', 'import', '--config', gw.config, PARTNER, write(gw, 'partner.pem', chainPem(partner, pki))], { now: NOW });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toContain(`Imported the certificate for ${PARTNER}.`);
    expect(result.stdout.toString()).toContain(`fingerprint:  ${sha256(partner.certificate)}`);
    expect(result.stdout.toString()).toContain('trust anchor: CN=Test Root p256');
    const report = await show(gw, PARTNER);
    expect(report.encryptTo).toBe(sha256(partner.certificate));
    expect(report.harvested).toEqual([expect.objectContaining({ fingerprint: sha256(partner.certificate), state: 'active', source: 'imported' })]);

    const after = await siegel(['outbound', '--config', gw.config], { now: NOW, stdin: outboundTo(PARTNER) });
    expect(after.code).toBe(0);
    expect(after.stdout.toString('latin1')).toMatch(/^Content-Type: application\/pkcs7-mime; [^\r\n]*smime-type=enveloped-data/im);
    const files = gw.pem('partner', partner);
    const decrypted = opensslDecrypt(gw.dir, after.stdout, files).toString('latin1');
    expect(decrypted).toContain('Ihr Bescheid liegt bei.');
  }, 30_000);

  it('DER of a certificate the root issued directly; --json; importing it again changes nothing', async () => {
    const gw = await gateway();
    const direct = await issueMailbox(pki.root, { subject: [['CN', 'Direkt']], email: 'direkt@partner.example', usage: 'both', keySpec: 'p256', notBefore: new Date('2026-06-01T00:00:00Z'), notAfter: new Date('2028-06-01T00:00:00Z') });
    const file = write(gw, 'direct.cer', direct.certificate);
    const first = await siegel(['certs', 'import', '--config', gw.config, '--json', 'Direkt@Partner.Example', file], { now: NOW });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout.toString())).toMatchObject({ address: 'direkt@partner.example', action: 'added', fingerprint: sha256(direct.certificate), replaced: [], notAfter: '2028-06-01T00:00:00.000Z' });
    const again = await siegel(['certs', 'import', '--config', gw.config, '--json', 'direkt@partner.example', file], { now: NOW });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout.toString())).toMatchObject({ action: 'unchanged' });
  }, 30_000);
});

describe('refusals: exit 3 and what is wrong', () => {
  let gw: GatewayDir;
  let untrusted: TestPki;
  beforeAll(async () => {
    gw = await gateway();
    const root = await createRootCa({ subject: [['CN', 'Fremde Root']], keySpec: 'p256', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
    const ca = await issueCa(root, { subject: [['CN', 'Fremde CA']], keySpec: 'p256', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') });
    untrusted = { root, ca };
  }, 60_000);

  const cases: ReadonlyArray<[string, () => Promise<string | Buffer>, RegExp]> = [
    ['a sign-only certificate', async () => chainPem(await mailboxCert(pki, { email: PARTNER, usage: 'sign', keySpec: 'p256' }), pki), /does not allow encryption .*signing-only certificate is never used to encrypt/],
    ['a certificate for another address', async () => chainPem(await mailboxCert(pki, { email: 'jemand@partner.example', usage: 'encrypt', keySpec: 'p256' }), pki), /no certificate in the file is for rat@partner.example: its subjectAltName holds jemand@partner.example/],
    ['an expired certificate', async () => chainPem(await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-12-01T00:00:00Z') }), pki), /expired on 2026-12-01/],
    ['a not yet valid certificate', async () => chainPem(await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256', notBefore: new Date('2027-02-01T00:00:00Z') }), pki), /is valid only from 2027-02-01/],
    ['a certificate from an untrusted PKI', async () => chainPem(await mailboxCert(untrusted, { email: PARTNER, usage: 'encrypt', keySpec: 'p256' }), untrusted), /does not validate to a configured trust anchor \((untrusted-root|no-path)\)/],
    ['a leaf without its issuing CA (no path)', async () => (await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256' })).certificate, /does not validate to a configured trust anchor \(no-path\)/],
    ['only CA certificates', async () => toPem('CERTIFICATE', pki.ca.certificate), /only CA certificates/],
    ['a private key instead of a certificate', async () => (await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256' })).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), /no CERTIFICATE block \(only PRIVATE KEY\)/],
    ['bytes that are no certificate', async () => Buffer.from('0\x82\x00\x01garbage'), /not an X.509 certificate in PEM or DER/],
    ['two certificates for the address', async () => toPem('CERTIFICATE', (await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256' })).certificate) + chainPem(await mailboxCert(pki, { email: PARTNER, usage: 'sign', keySpec: 'p256' }), pki), /2 certificates for rat@partner.example; import the encryption certificate alone/],
  ];
  test.each(cases)('%s', async (label, content, reason) => {
    const file = write(gw, `${label.replace(/\W+/g, '-')}.pem`, await content());
    const result = await siegel(['certs', 'import', '--config', gw.config, PARTNER, file], { now: NOW });
    expect(result.stderr).toMatch(/^siegel certs import: refused: /);
    expect(result.stderr).toMatch(reason);
    expect(result.code).toBe(3);
    expect(result.stdout.toString()).toBe('');
    expect((await show(gw, PARTNER)).harvested).toEqual([]);
  });

  it('a bad address is a usage error, a missing file a failure', async () => {
    expect((await siegel(['certs', 'import', '--config', gw.config, 'kein-postfach', '/nonexistent'], { now: NOW })).code).toBe(2);
    const missing = await siegel(['certs', 'import', '--config', gw.config, PARTNER, path.join(gw.dir, 'fehlt.pem')], { now: NOW });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*fehlt\.pem/);
  });
});

describe('the harvest rules hold for imports', () => {
  it('another trust anchor does not replace the kept certificate without --force; with it, the old one is superseded', async () => {
    const gw = await gateway();
    const kept = await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256' });
    const rival = await mailboxCert(second, { email: PARTNER, usage: 'encrypt', keySpec: 'p384', notBefore: new Date('2026-06-01T00:00:00Z') });
    expect((await siegel(['certs', 'import', '--config', gw.config, PARTNER, write(gw, 'kept.pem', chainPem(kept, pki))], { now: NOW })).code).toBe(0);
    const rivalFile = write(gw, 'rival.pem', chainPem(rival, second));
    const refused = await siegel(['certs', 'import', '--config', gw.config, PARTNER, rivalFile], { now: NOW });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/already has a valid certificate from another trust anchor \(kept: CN=Mailbox rat@partner.example.*\); a second CA must not take over the address. Use --force/);
    expect((await show(gw, PARTNER)).encryptTo).toBe(sha256(kept.certificate));

    const forced = await siegel(['certs', 'import', '--config', gw.config, '--force', '--json', PARTNER, rivalFile], { now: NOW });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout.toString())).toMatchObject({ action: 'forced', fingerprint: sha256(rival.certificate), replaced: [sha256(kept.certificate)] });
    const report = await show(gw, PARTNER);
    expect(report.encryptTo).toBe(sha256(rival.certificate));
    expect(report.harvested.map((h) => [h.fingerprint, h.state])).toEqual(
      expect.arrayContaining([[sha256(rival.certificate), 'active'], [sha256(kept.certificate), 'superseded']]),
    );
  }, 30_000);

  it('a newer certificate from the same anchor supersedes; an older one is refused', async () => {
    const gw = await gateway();
    const current = await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256', notBefore: new Date('2026-06-01T00:00:00Z') });
    const older = await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256', notBefore: new Date('2026-01-01T00:00:00Z') });
    const newer = await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256', notBefore: new Date('2026-12-01T00:00:00Z') });
    expect((await siegel(['certs', 'import', '--config', gw.config, PARTNER, write(gw, 'current.pem', chainPem(current, pki))], { now: NOW })).code).toBe(0);
    const refused = await siegel(['certs', 'import', '--config', gw.config, PARTNER, write(gw, 'older.pem', chainPem(older, pki))], { now: NOW });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/already has a certificate that is not older than this one/);
    const superseding = await siegel(['certs', 'import', '--config', gw.config, '--json', PARTNER, write(gw, 'newer.pem', chainPem(newer, pki))], { now: NOW });
    expect(superseding.code).toBe(0);
    expect(JSON.parse(superseding.stdout.toString())).toMatchObject({ action: 'superseded', replaced: [sha256(current.certificate)] });
    expect((await show(gw, PARTNER)).encryptTo).toBe(sha256(newer.certificate));
  }, 30_000);
});

test('schema step 5 keeps harvested rows and accepts the source "imported"', async () => {
  const dataDir = path.join(tempDir('siegel-migrate-'), 'data');
  const { db } = openDatabase(dataDir, schemaMigrations.filter((m) => m.version <= 4), () => {});
  db.prepare(
    `INSERT INTO harvested_certificates (address, fingerprint, certificate, subject, issuer, serial, not_before, not_after, capabilities, source, first_seen, last_seen, anchor_fingerprint, state)
     VALUES (?, ?, ?, 'CN=x', 'CN=y', '01', 1, 2, '2.16.840.1.101.3.4.1.42', 'signer', 3, 4, ?, 'active')`,
  ).run(PARTNER, 'ab'.repeat(32), Buffer.from([1, 2, 3]), 'cd'.repeat(32));
  expect(() => db.prepare("UPDATE harvested_certificates SET source = 'imported'").run()).toThrow(/CHECK constraint failed/);
  db.close();
  const store = SqliteHarvestedStore.open(dataDir);
  try {
    const [row] = await store.forAddress(PARTNER);
    expect(row).toMatchObject({ address: PARTNER, fingerprint: 'ab'.repeat(32), source: 'signer', capabilities: ['2.16.840.1.101.3.4.1.42'], state: 'active' });
    await store.put({ ...(row as NonNullable<typeof row>), source: 'imported' });
    expect((await store.get(PARTNER, 'ab'.repeat(32)))?.source).toBe('imported');
    await expect(store.put({ ...(row as NonNullable<typeof row>), source: 'ldap' as never })).rejects.toThrow(/unknown source/);
  } finally {
    await store.close();
  }
});
