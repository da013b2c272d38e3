/**
 * The harvesting rules on certificates from generated PKIs (rule 5: fixed
 * clock), against the real sqlite store.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { SiegelError } from '../../src/errors.js';
import { harvest, lookupEncryptionCertificate, type HarvestCandidate, type HarvestInput } from '../../src/keystore/harvest.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { createRootCa, issueCa, issueMailbox, type Issued, type MailboxOptions } from '../../src/pki/generate.js';
import type { SmimeResult } from '../../src/smime/verdict.js';
import { AT, tempDir, testPki, type TestPki } from '../pki/test-pki.js';

const ADDRESS = 'rat@partner.example';
const AES256_CBC = '2.16.840.1.101.3.4.1.42';
const AES128_GCM = '2.16.840.1.101.3.4.1.6';

function sha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

let pkiA: TestPki;
let pkiB: TestPki;
let anchorA: string;
let anchorB: string;

beforeAll(async () => {
  pkiA = await testPki('p256');
  const root = await createRootCa({
    subject: [['C', 'DE'], ['O', 'Other CA'], ['CN', 'Spoofing Root']],
    keySpec: 'p256',
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2040-01-01T00:00:00Z'),
  });
  const ca = await issueCa(root, { subject: [['C', 'DE'], ['O', 'Other CA'], ['CN', 'Spoofing Issuing CA']], keySpec: 'p256' });
  pkiB = { root, ca };
  anchorA = sha256(pkiA.root.certificate);
  anchorB = sha256(pkiB.root.certificate);
});

function leaf(pki: TestPki, options: Partial<MailboxOptions> = {}): Promise<Issued> {
  return issueMailbox(pki.ca, {
    subject: [['C', 'DE'], ['O', 'Partner'], ['CN', `Rat ${options.usage ?? 'both'}`]],
    email: ADDRESS,
    keySpec: 'p256',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2029-01-01T00:00:00Z'),
    ...options,
  });
}

function input(candidates: Array<[Issued, HarvestCandidate['source']]>, extra: Partial<HarvestInput> = {}): HarvestInput {
  return {
    verdict: { result: 'pass' },
    addresses: [ADDRESS],
    candidates: candidates.map(([issued, source]) => ({ certificate: issued.certificate, source })),
    capabilities: [AES256_CBC, AES128_GCM],
    anchorFingerprint: anchorA,
    signingTime: new Date('2026-12-31T10:00:00Z'),
    ...extra,
  };
}

let store: SqliteHarvestedStore;

beforeEach(() => {
  store = SqliteHarvestedStore.open(path.join(tempDir('siegel-harvest-rules-'), 'data'));
});

afterEach(async () => {
  await store.close();
});

async function usedFor(address = ADDRESS, at = AT): Promise<string | undefined> {
  return (await lookupEncryptionCertificate(store, address, at))?.fingerprint;
}

describe('choosing the certificate to encrypt to', () => {
  it('takes the encryption-key preference first, then a same-address certificate, then the signer', async () => {
    const signer = await leaf(pkiA, { usage: 'both' });
    const sameAddress = await leaf(pkiA, { usage: 'encrypt' });
    const preferred = await leaf(pkiA, { usage: 'encrypt' });

    const all = await harvest(store, input([[signer, 'signer'], [sameAddress, 'same-address'], [preferred, 'encryption-preference']]), AT);
    expect(all).toEqual([{ address: ADDRESS, action: 'added', fingerprint: sha256(preferred.certificate), detail: expect.any(String) }]);
    expect((await store.forAddress(ADDRESS)).map((r) => [r.source, r.state])).toEqual([['encryption-preference', 'active']]);

    const second = SqliteHarvestedStore.open(path.join(tempDir('siegel-harvest-rules-'), 'data'));
    try {
      await harvest(second, input([[signer, 'signer'], [sameAddress, 'same-address']]), AT);
      expect((await lookupEncryptionCertificate(second, ADDRESS, AT))?.fingerprint).toBe(sha256(sameAddress.certificate));
      expect((await second.forAddress(ADDRESS))[0]?.source).toBe('same-address');
    } finally {
      await second.close();
    }
    const third = SqliteHarvestedStore.open(path.join(tempDir('siegel-harvest-rules-'), 'data'));
    try {
      await harvest(third, input([[signer, 'signer']]), AT);
      expect((await lookupEncryptionCertificate(third, ADDRESS, AT))?.fingerprint).toBe(sha256(signer.certificate));
      expect((await third.forAddress(ADDRESS))[0]?.source).toBe('signer');
    } finally {
      await third.close();
    }
  });

  it('never chooses a sign-only certificate, even when the preference names it', async () => {
    const signOnly = await leaf(pkiA, { usage: 'sign' });
    expect(await harvest(store, input([[signOnly, 'signer']]), AT)).toEqual([
      { address: ADDRESS, action: 'no-encryption-certificate', detail: `no certificate in the message may be used to encrypt to ${ADDRESS}` },
    ]);
    expect(await store.list()).toEqual([]);
    expect(await usedFor()).toBeUndefined();

    const encrypt = await leaf(pkiA, { usage: 'encrypt' });
    await harvest(store, input([[signOnly, 'signer'], [signOnly, 'encryption-preference'], [encrypt, 'same-address']]), AT);
    expect(await usedFor()).toBe(sha256(encrypt.certificate));
  });

  it('works with RSA key transport certificates and refuses RSA sign-only ones', async () => {
    const pki = await testPki('rsa2048');
    const rsaSign = await issueMailbox(pki.ca, { subject: [['CN', 'Rat RSA sign']], email: ADDRESS, keySpec: 'rsa2048', usage: 'sign', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') });
    const rsaEnc = await issueMailbox(pki.ca, { subject: [['CN', 'Rat RSA enc']], email: ADDRESS, keySpec: 'rsa2048', usage: 'encrypt', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') });
    const anchor = sha256(pki.root.certificate);
    expect((await harvest(store, input([[rsaSign, 'signer']], { anchorFingerprint: anchor }), AT))[0]?.action).toBe('no-encryption-certificate');
    expect((await harvest(store, input([[rsaSign, 'signer'], [rsaEnc, 'same-address']], { anchorFingerprint: anchor }), AT))[0]?.action).toBe('added');
    expect(await usedFor()).toBe(sha256(rsaEnc.certificate));
    expect((await store.forAddress(ADDRESS))[0]?.anchorFingerprint).toBe(anchor);
  });

  it('ignores a preferred or extra certificate for another address, a CA certificate, or unreadable bytes', async () => {
    const signer = await leaf(pkiA, { usage: 'both' });
    const otherAddress = await leaf(pkiA, { usage: 'encrypt', email: 'someone-else@partner.example' });
    const candidates: HarvestCandidate[] = [
      { certificate: otherAddress.certificate, source: 'encryption-preference' },
      { certificate: pkiA.ca.certificate, source: 'same-address' },
      { certificate: Buffer.from('30820000', 'hex'), source: 'same-address' },
      { certificate: Buffer.alloc(100_000, 0x30), source: 'same-address' },
      { certificate: signer.certificate, source: 'signer' },
    ];
    expect((await harvest(store, { ...input([]), candidates }, AT))[0]?.action).toBe('added');
    expect(await usedFor()).toBe(sha256(signer.certificate));
  });

  it('never chooses an expired or not-yet-valid certificate', async () => {
    const expired = await leaf(pkiA, { usage: 'encrypt', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-06-01T00:00:00Z') });
    const future = await leaf(pkiA, { usage: 'encrypt', notBefore: new Date('2027-06-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') });
    const outcomes = await harvest(store, input([[expired, 'encryption-preference'], [future, 'same-address'], [expired, 'signer']]), AT);
    expect(outcomes.map((o) => o.action)).toEqual(['no-encryption-certificate']);
    expect(await store.list()).toEqual([]);
  });

  it('harvests a certificate for each address it vouches for', async () => {
    const both = await leaf(pkiA, { usage: 'both', email: ['Rat@Partner.example', 'fraktion@partner.example'] });
    const outcomes = await harvest(store, input([[both, 'signer']], { addresses: ['rat@partner.example', 'FRAKTION@partner.example', 'rat@partner.example'] }), AT);
    expect(outcomes.map((o) => [o.address, o.action])).toEqual([
      ['rat@partner.example', 'added'],
      ['fraktion@partner.example', 'added'],
    ]);
    expect(await usedFor('rat@partner.example')).toBe(sha256(both.certificate));
    expect(await usedFor('Fraktion@Partner.Example')).toBe(sha256(both.certificate));
    expect((await store.list()).map((r) => r.address)).toEqual(['fraktion@partner.example', 'rat@partner.example']);
  });
});

describe('replacing the kept certificate', () => {
  it('lets a newer certificate under the same anchor supersede the older, not the other way round', async () => {
    const older = await leaf(pkiA, { usage: 'encrypt', notBefore: new Date('2026-01-01T00:00:00Z') });
    const newer = await leaf(pkiA, { usage: 'encrypt', notBefore: new Date('2026-09-01T00:00:00Z') });
    await harvest(store, input([[older, 'encryption-preference']]), AT);
    const outcome = await harvest(store, input([[newer, 'encryption-preference']]), AT);
    expect(outcome[0]?.action).toBe('superseded');
    expect(await usedFor()).toBe(sha256(newer.certificate));
    const states = Object.fromEntries((await store.forAddress(ADDRESS)).map((r) => [r.fingerprint, r.state]));
    expect(states).toEqual({ [sha256(newer.certificate)]: 'active', [sha256(older.certificate)]: 'superseded' });

    // An old message (or an old client) sending the older certificate again changes nothing.
    expect((await harvest(store, input([[older, 'encryption-preference']]), AT))[0]?.action).toBe('refreshed');
    const third = await leaf(pkiA, { usage: 'encrypt', notBefore: new Date('2026-03-01T00:00:00Z') });
    expect((await harvest(store, input([[third, 'encryption-preference']]), AT))[0]?.action).toBe('kept-current');
    expect(await usedFor()).toBe(sha256(newer.certificate));
    expect(await store.forAddress(ADDRESS)).toHaveLength(2);
  });

  it('refuses a certificate from another trust anchor while the kept one is valid, accepts it once that expired', async () => {
    const genuine = await leaf(pkiA, { usage: 'encrypt', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-03-01T00:00:00Z') });
    const spoof = await leaf(pkiB, { usage: 'encrypt', notBefore: new Date('2026-10-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') });
    await harvest(store, input([[genuine, 'encryption-preference']]), AT);
    const refused = await harvest(store, input([[spoof, 'encryption-preference']], { anchorFingerprint: anchorB }), AT);
    expect(refused).toEqual([
      { address: ADDRESS, action: 'refused-other-anchor', fingerprint: sha256(spoof.certificate), detail: expect.stringContaining('chains to trust anchor') },
    ]);
    expect(await usedFor()).toBe(sha256(genuine.certificate));
    expect(await store.get(ADDRESS, sha256(spoof.certificate))).toBeUndefined();

    // A per-candidate anchor counts too: the signer's anchor does not launder the candidate's.
    const viaCandidate = await harvest(
      store,
      { ...input([]), candidates: [{ certificate: spoof.certificate, source: 'same-address', anchorFingerprint: anchorB }] },
      AT,
    );
    expect(viaCandidate[0]?.action).toBe('refused-other-anchor');

    const later = new Date('2027-06-01T00:00:00Z');
    expect(await usedFor(ADDRESS, later)).toBeUndefined();
    const replaced = await harvest(store, input([[spoof, 'encryption-preference']], { anchorFingerprint: anchorB, signingTime: later }), later);
    expect(replaced[0]?.action).toBe('superseded');
    expect(await usedFor(ADDRESS, later)).toBe(sha256(spoof.certificate));
    expect((await store.get(ADDRESS, sha256(genuine.certificate)))?.state).toBe('superseded');
    expect((await store.get(ADDRESS, sha256(spoof.certificate)))?.anchorFingerprint).toBe(anchorB);
  });

  it('writes lastSeen at most hourly while nothing else changes, and at once when the capabilities change', async () => {
    const cert = await leaf(pkiA, { usage: 'both' });
    const fp = sha256(cert.certificate);
    const first = new Date('2026-12-01T10:00:00Z');
    await harvest(store, input([[cert, 'signer']], { signingTime: first, capabilities: [AES256_CBC] }), AT);
    const tenMinutes = new Date(first.getTime() + 10 * 60_000);
    const again = await harvest(store, input([[cert, 'signer']], { signingTime: tenMinutes, capabilities: [AES256_CBC] }), AT);
    expect(again[0]?.action).toBe('refreshed');
    expect((await store.get(ADDRESS, fp))?.lastSeen).toEqual(first);
    await harvest(store, input([[cert, 'signer']], { signingTime: tenMinutes, capabilities: [AES128_GCM, AES256_CBC] }), AT);
    expect(await store.get(ADDRESS, fp)).toMatchObject({ lastSeen: tenMinutes, capabilities: [AES128_GCM, AES256_CBC] });
    const twoHours = new Date(first.getTime() + 2 * 3_600_000);
    await harvest(store, input([[cert, 'signer']], { signingTime: twoHours, capabilities: [AES128_GCM, AES256_CBC] }), AT);
    expect((await store.get(ADDRESS, fp))?.lastSeen).toEqual(twoHours);
  });

  it('updates lastSeen and capabilities only from a later message, never beyond now', async () => {
    const cert = await leaf(pkiA, { usage: 'both' });
    const fp = sha256(cert.certificate);
    await harvest(store, input([[cert, 'signer']], { signingTime: new Date('2026-12-01T00:00:00Z'), capabilities: [AES256_CBC] }), AT);
    expect(await store.get(ADDRESS, fp)).toMatchObject({ firstSeen: new Date('2026-12-01T00:00:00Z'), lastSeen: new Date('2026-12-01T00:00:00Z'), capabilities: [AES256_CBC] });

    await harvest(store, input([[cert, 'signer']], { signingTime: new Date('2026-11-01T00:00:00Z'), capabilities: [] }), AT);
    expect(await store.get(ADDRESS, fp)).toMatchObject({ lastSeen: new Date('2026-12-01T00:00:00Z'), capabilities: [AES256_CBC] });

    await harvest(store, input([[cert, 'signer']], { signingTime: new Date('2030-01-01T00:00:00Z'), capabilities: [AES128_GCM, AES256_CBC] }), AT);
    expect(await store.get(ADDRESS, fp)).toMatchObject({ firstSeen: new Date('2026-12-01T00:00:00Z'), lastSeen: AT, capabilities: [AES128_GCM, AES256_CBC] });

    const many = Array.from({ length: 100 }, (_, i) => `1.2.3.${i}`);
    await harvest(store, input([[cert, 'signer']], { signingTime: AT, capabilities: many }), AT);
    expect((await store.get(ADDRESS, fp))?.capabilities).toEqual(many.slice(0, 64));

    const { signingTime: _omitted, ...withoutTime } = input([[cert, 'signer']]);
    const noTime = new Date('2027-01-02T00:00:00Z');
    await harvest(store, withoutTime, noTime);
    expect((await store.get(ADDRESS, fp))?.lastSeen).toEqual(noTime);
  });
});

describe('defence in depth and lookup', () => {
  it.each<SmimeResult>(['fail', 'policy', 'neutral', 'none', 'temperror', 'permerror'])('refuses a %s verdict and stores nothing', async (result) => {
    const cert = await leaf(pkiA, { usage: 'both' });
    const attempt = harvest(store, input([[cert, 'signer']], { verdict: { result } }), AT);
    await expect(attempt).rejects.toBeInstanceOf(SiegelError);
    await expect(attempt).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining(`verdict is ${result}, not pass`) });
    expect(await store.list()).toEqual([]);
  });

  it('returns the certificate with its capabilities while valid, nothing before or after', async () => {
    const cert = await leaf(pkiA, { usage: 'encrypt', notAfter: new Date('2027-05-01T00:00:00Z') });
    await harvest(store, input([[cert, 'same-address']]), AT);
    expect(await lookupEncryptionCertificate(store, ' RAT@partner.example ', AT)).toEqual({
      address: ADDRESS,
      certificate: cert.certificate,
      fingerprint: sha256(cert.certificate),
      capabilities: [AES256_CBC, AES128_GCM],
      notAfter: new Date('2027-05-01T00:00:00Z'),
    });
    expect(await lookupEncryptionCertificate(store, ADDRESS, new Date('2027-05-01T00:00:01Z'))).toBeUndefined();
    expect(await lookupEncryptionCertificate(store, ADDRESS, new Date('2025-12-31T00:00:00Z'))).toBeUndefined();
    expect(await lookupEncryptionCertificate(store, 'unknown@partner.example', AT)).toBeUndefined();
  });
});
