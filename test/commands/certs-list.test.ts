import { certsList } from '../../src/commands/certs-list.js';
import { ExitCode } from '../../src/commands/context.js';
import { openKeystore } from '../../src/keystore/open.js';
import { silentLogger } from '../../src/log.js';
import { AT, mailboxCert, testPki } from '../pki/test-pki.js';
import { testContext } from './command-context.js';

async function enrolled() {
  const t = testContext({ now: AT });
  const pki = await testPki();
  const sign = await mailboxCert(pki, { email: 'poststelle@stadt.example', usage: 'sign' });
  const enc = await mailboxCert(pki, { email: 'poststelle@stadt.example', usage: 'encrypt', notAfter: new Date('2027-01-20T12:00:00Z') });
  const info = await mailboxCert(pki, { email: 'info@stadt.example', usage: 'both', keySpec: 'p256' });
  const keystore = openKeystore(t.ctx.config, t.ctx.env, t.ctx.now, silentLogger());
  try {
    for (const [leaf, mailbox] of [[sign, 'poststelle@stadt.example'], [enc, 'poststelle@stadt.example'], [info, 'info@stadt.example']] as const) {
      await keystore.importIdentity({ mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [pki.ca.certificate] }, AT);
    }
  } finally {
    await keystore.close();
  }
  return t;
}

describe('siegel certs list', () => {
  it('prints a table sorted by mailbox and expiry', async () => {
    const t = await enrolled();
    expect(await certsList(t.ctx, {})).toBe(ExitCode.ok);
    const lines = t.stdout().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^MAILBOX +ROLE +STATE +SUBJECT +ISSUER +SERIAL +EXPIRES +DAYS LEFT +STATUS$/);
    expect(lines.slice(1).map((line) => line.split(/ {2,}/))).toEqual([
      ['info@stadt.example', 'both', 'active', 'CN=Mailbox info@stadt.example,O=Stadt Test,C=DE', 'CN=Test Issuing CA rsa2048,O=Freistaat Test,C=DE', expect.stringMatching(/^[0-9A-F]+$/), '2029-01-01', '731', 'in use'],
      ['poststelle@stadt.example', 'encrypt', 'active', expect.any(String), expect.any(String), expect.any(String), '2027-01-20', '19', 'in use, EXPIRING: renew'],
      ['poststelle@stadt.example', 'sign', 'active', expect.any(String), expect.any(String), expect.any(String), '2029-01-01', '731', 'in use'],
    ]);
  });

  it('prints JSON and shows expired identities with negative days left', async () => {
    const t = await enrolled();
    const later = { ...t.ctx, now: () => new Date('2027-02-01T00:00:00Z') };
    expect(await certsList(later, { json: true })).toBe(ExitCode.ok);
    const listing = JSON.parse(t.stdout()) as Array<Record<string, unknown>>;
    expect(listing).toHaveLength(3);
    expect(listing[1]).toMatchObject({
      mailbox: 'poststelle@stadt.example',
      role: 'encrypt',
      state: 'active',
      notAfter: '2027-01-20T12:00:00.000Z',
      daysLeft: -12,
      status: 'expired',
      expiring: true,
      renewedBy: null,
    });
    expect(Object.keys(listing[0] ?? {})).toEqual(['id', 'mailbox', 'role', 'state', 'subject', 'issuer', 'serial', 'notBefore', 'notAfter', 'daysLeft', 'status', 'expiring', 'renewedBy', 'createdAt']);
  });

  it('works without the master key and says when nothing is enrolled', async () => {
    const t = testContext({ now: AT, withMasterKeyFile: false });
    expect(await certsList(t.ctx, {})).toBe(ExitCode.ok);
    expect(t.stdout()).toBe('No identities enrolled. Add one with `siegel enroll import`.\n');
    const json = testContext({ now: AT, withMasterKeyFile: false });
    expect(await certsList(json.ctx, { json: true })).toBe(ExitCode.ok);
    expect(JSON.parse(json.stdout())).toEqual([]);
  });
});
