import { createHash } from 'node:crypto';
import { certsListHarvested } from '../../src/commands/certs-harvested.js';
import { capabilityName, certsShow } from '../../src/commands/certs-show.js';
import { ExitCode } from '../../src/commands/context.js';
import { harvest, type HarvestInput } from '../../src/keystore/harvest.js';
import { openKeystore } from '../../src/keystore/open.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { silentLogger } from '../../src/log.js';
import type { Issued } from '../../src/pki/generate.js';
import { AT, mailboxCert, testPki } from '../pki/test-pki.js';
import { testContext, type TestContext } from '../commands/command-context.js';

const PARTNER = 'rat@partner.example';
const OWN = 'poststelle@stadt.example';

function sha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

interface Scene {
  readonly t: TestContext;
  readonly older: Issued;
  readonly newer: Issued;
  readonly both: Issued;
  readonly anchor: string;
}

/** An enrolled mailbox of ours and a correspondent with a superseded and a current certificate. */
async function scene(withMasterKeyFile = true): Promise<Scene> {
  const t = testContext({ now: AT });
  const pki = await testPki('p256');
  const own = await mailboxCert(pki, { email: OWN, usage: 'both', keySpec: 'p256' });
  const keystore = openKeystore(t.ctx.config, t.ctx.env, t.ctx.now, silentLogger());
  try {
    await keystore.importIdentity({ mailbox: OWN, privateKey: own.privateKey, certificate: own.certificate, chain: [pki.ca.certificate] }, AT);
  } finally {
    await keystore.close();
  }
  const older = await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256', notBefore: new Date('2025-06-01T00:00:00Z'), notAfter: new Date('2027-01-20T00:00:00Z') });
  const newer = await mailboxCert(pki, { email: PARTNER, usage: 'encrypt', keySpec: 'p256', notBefore: new Date('2026-06-01T00:00:00Z') });
  const both = await mailboxCert(pki, { email: 'info@partner.example', usage: 'both', keySpec: 'p256' });
  const anchor = sha256(pki.root.certificate);
  const message = (cert: Issued, address: string, signingTime: Date, capabilities: string[]): HarvestInput => ({
    verdict: { result: 'pass' },
    addresses: [address],
    candidates: [{ certificate: cert.certificate, source: address === PARTNER ? 'encryption-preference' : 'signer' }],
    capabilities,
    anchorFingerprint: anchor,
    signingTime,
  });
  const store = SqliteHarvestedStore.open(t.ctx.config.dataDir);
  try {
    await harvest(store, message(older, PARTNER, new Date('2026-07-01T08:00:00Z'), ['2.16.840.1.101.3.4.1.42']), new Date('2026-07-01T09:00:00Z'));
    await harvest(store, message(newer, PARTNER, new Date('2026-12-24T08:00:00Z'), ['2.16.840.1.101.3.4.1.46', '2.16.840.1.101.3.4.1.42', '1.2.3.4.5']), AT);
    await harvest(store, message(both, 'info@partner.example', new Date('2026-12-30T08:00:00Z'), []), AT);
  } finally {
    await store.close();
  }
  const result = withMasterKeyFile ? t : testContext({ now: AT, withMasterKeyFile: false, dir: t.dir });
  return { t: result, older, newer, both, anchor };
}

describe('siegel certs show ADDR', () => {
  it('shows a correspondent\'s harvested certificates with state, expiry, named capabilities and source', async () => {
    const { t, older, newer, anchor } = await scene(false);
    expect(await certsShow(t.ctx, { address: ' Rat@Partner.Example ' })).toBe(ExitCode.ok);
    const out = t.stdout();
    expect(t.stderr()).toBe('');
    expect(out).toContain('Address: rat@partner.example\n');
    expect(out).toContain('Enrolled identities (own mailbox): none\n');
    expect(out).toContain('Harvested certificates (correspondent): 2\n');
    const [current, superseded] = out.split('\n  - ').slice(1);
    expect(current).toMatch(/^active: CN=Mailbox rat@partner.example,O=Stadt Test,C=DE \[replies are encrypted to this one\]\n/);
    expect(current).toContain('valid:        2026-06-01 to 2029-01-01 (731 days left)');
    expect(current).toContain('source:       encryption-preference');
    expect(current).toContain('capabilities: AES-256-GCM, AES-256-CBC, 1.2.3.4.5');
    expect(current).toContain('last seen:    2026-12-24T08:00:00.000Z');
    expect(current).toContain(`fingerprint:  ${sha256(newer.certificate)}`);
    expect(current).toContain(`trust anchor: ${anchor}`);
    expect(superseded).toMatch(/^superseded: CN=Mailbox rat@partner.example/);
    expect(superseded).not.toContain('replies are encrypted');
    expect(superseded).toContain('valid:        2025-06-01 to 2027-01-20 (19 days left)');
    expect(superseded).toContain('capabilities: AES-256-CBC');
    expect(superseded).toContain(`fingerprint:  ${sha256(older.certificate)}`);
  });

  it('shows an own mailbox\'s enrolled identity', async () => {
    const { t } = await scene();
    expect(await certsShow(t.ctx, { address: OWN })).toBe(ExitCode.ok);
    const out = t.stdout();
    expect(out).toContain('Enrolled identities (own mailbox): 1\n  - both, active: CN=Mailbox poststelle@stadt.example,O=Stadt Test,C=DE\n');
    expect(out).toContain('expires:  2029-01-01 (731 days left)');
    expect(out).toContain('Harvested certificates (correspondent): none\n');
  });

  it('prints JSON with the certificate replies are encrypted to', async () => {
    const { t, newer, older } = await scene();
    expect(await certsShow(t.ctx, { address: PARTNER, json: true })).toBe(ExitCode.ok);
    const report = JSON.parse(t.stdout()) as {
      address: string;
      identities: unknown[];
      harvested: Array<Record<string, unknown>>;
      encryptTo: string | null;
    };
    expect(report.address).toBe(PARTNER);
    expect(report.identities).toEqual([]);
    expect(report.encryptTo).toBe(sha256(newer.certificate));
    expect(report.harvested.map((h) => [h.fingerprint, h.state])).toEqual([
      [sha256(newer.certificate), 'active'],
      [sha256(older.certificate), 'superseded'],
    ]);
    expect(report.harvested[0]).toMatchObject({
      capabilities: ['2.16.840.1.101.3.4.1.46', '2.16.840.1.101.3.4.1.42', '1.2.3.4.5'],
      capabilityNames: ['AES-256-GCM', 'AES-256-CBC', '1.2.3.4.5'],
      source: 'encryption-preference',
      notAfter: '2029-01-01T00:00:00.000Z',
      daysLeft: 731,
    });
  });

  it('says when nothing usable is left, nothing is known, or the address is malformed', async () => {
    const { t } = await scene();
    const later = { ...t.ctx, now: () => new Date('2029-06-01T00:00:00Z') };
    expect(await certsShow(later, { address: PARTNER })).toBe(ExitCode.ok);
    expect(t.stdout()).toContain('(expired)');
    expect(t.stdout()).toContain('No harvested certificate is usable now: replies go out unencrypted.');

    const empty = testContext({ now: AT, withMasterKeyFile: false });
    expect(await certsShow(empty.ctx, { address: 'nobody@partner.example' })).toBe(ExitCode.ok);
    expect(empty.stdout()).toBe('Address: nobody@partner.example\nNothing known about this address: no enrolled identity, no harvested certificate.\n');
    expect(await certsShow(empty.ctx, { address: 'not an address' })).toBe(ExitCode.usage);
    expect(empty.stderr()).toBe('siegel certs show: "not an address" is not a mailbox address (expected local@domain)\n');
  });

  it('names common capabilities', () => {
    expect(capabilityName('2.16.840.1.101.3.4.1.2')).toBe('AES-128-CBC');
    expect(capabilityName('1.2.840.113549.1.1.7')).toBe('RSAES-OAEP');
    expect(capabilityName('1.2.840.113549.3.7')).toBe('3DES-CBC (weak)');
    expect(capabilityName('1.2.3')).toBe('1.2.3');
  });
});

describe('siegel certs list --harvested', () => {
  it('prints a table by address, newest first, without needing the master key', async () => {
    const { t } = await scene(false);
    expect(await certsListHarvested(t.ctx, {})).toBe(ExitCode.ok);
    const lines = t.stdout().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ADDRESS +STATE +SUBJECT +ISSUER +SERIAL +EXPIRES +LAST SEEN$/);
    expect(lines.slice(1).map((line) => line.split(/ {2,}/))).toEqual([
      ['info@partner.example', 'active', 'CN=Mailbox info@partner.example,O=Stadt Test,C=DE', 'CN=Test Issuing CA p256,O=Freistaat Test,C=DE', expect.stringMatching(/^[0-9A-F]+$/), '2029-01-01', '2026-12-30'],
      ['rat@partner.example', 'active', expect.any(String), expect.any(String), expect.any(String), '2029-01-01', '2026-12-24'],
      ['rat@partner.example', 'superseded', expect.any(String), expect.any(String), expect.any(String), '2027-01-20', '2026-07-01'],
    ]);
    const later = testContext({ now: new Date('2027-02-01T00:00:00Z'), dir: t.dir, withMasterKeyFile: false });
    expect(await certsListHarvested(later.ctx, {})).toBe(ExitCode.ok);
    expect(later.stdout()).toContain('2027-01-20 (expired)');
  });

  it('prints JSON and says when nothing was harvested', async () => {
    const { t, both } = await scene();
    expect(await certsListHarvested(t.ctx, { json: true })).toBe(ExitCode.ok);
    const listing = JSON.parse(t.stdout()) as Array<Record<string, unknown>>;
    expect(listing).toHaveLength(3);
    expect(listing[0]).toEqual({
      address: 'info@partner.example',
      state: 'active',
      subject: 'CN=Mailbox info@partner.example,O=Stadt Test,C=DE',
      issuer: 'CN=Test Issuing CA p256,O=Freistaat Test,C=DE',
      serial: expect.stringMatching(/^[0-9A-F]+$/),
      fingerprint: sha256(both.certificate),
      notBefore: '2026-01-01T00:00:00.000Z',
      notAfter: '2029-01-01T00:00:00.000Z',
      daysLeft: 731,
      capabilities: [],
      source: 'signer',
      firstSeen: '2026-12-30T08:00:00.000Z',
      lastSeen: '2026-12-30T08:00:00.000Z',
      anchorFingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const empty = testContext({ now: AT });
    expect(await certsListHarvested(empty.ctx, {})).toBe(ExitCode.ok);
    expect(empty.stdout()).toBe('No certificates harvested yet. They are learned from signed mail that verifies.\n');
    const emptyJson = testContext({ now: AT });
    expect(await certsListHarvested(emptyJson.ctx, { json: true })).toBe(ExitCode.ok);
    expect(JSON.parse(emptyJson.stdout())).toEqual([]);
  });

  it('reports a database it cannot open', async () => {
    const t = testContext({ now: AT });
    const broken = { ...t.ctx, config: { ...t.ctx.config, dataDir: '/dev/null/siegel' } };
    expect(await certsListHarvested(broken, {})).toBe(ExitCode.failure);
    expect(t.stderr()).toMatch(/^siegel certs list: cannot open database \/dev\/null\/siegel\/siegel\.db/);
    expect(await certsShow(broken, { address: PARTNER })).toBe(ExitCode.failure);
    expect(t.stderr()).toMatch(/siegel certs show: cannot open database/);
  });
});
