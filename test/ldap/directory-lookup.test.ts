/**
 * Directory look-up of recipient certificates against a real OpenLDAP
 * server (slapd, started here): which certificates are used (trusted path,
 * encryption usage, validity, the newest of several), that the address is
 * escaped into the filter, that answers are cached and an unreachable
 * directory is not, and a bind with a password file. Fixed clock.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createDirectoryLookup, NOT_FOUND_TTL_MS, type DirectoryLookup } from '../../src/directory/directory-lookup.js';
import { SiegelError } from '../../src/errors.js';
import type { EncryptionCertificate } from '../../src/keystore/harvest.js';
import { createLogger } from '../../src/log.js';
import { firstFound } from '../../src/pipeline/encryption-lookup.js';
import { createRootCa, issueCa, issueMailbox, type Issued, type MailboxUsage } from '../../src/pki/generate.js';
import { parseCertificate } from '../../src/pki/certificate-info.js';
import { trustStoreFromDer, type TrustAnchor } from '../../src/pki/trust-store.js';
import { tempDir } from '../pki/test-pki.js';
import { personLdif, PROTECTED_OU, READER_DN, READER_PASSWORD, startSlapd, SUFFIX, type Slapd } from './slapd.js';

const AT = new Date('2027-01-01T00:00:00Z');
const VALID = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') };

class LogLines extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    callback();
  }
  messages(): string[] {
    return this.lines.map((l) => String(l.msg));
  }
}

let slapd: Slapd;
let dir: string;
let anchors: readonly TrustAnchor[];
let trusted: { root: Issued; ca: Issued };
let certs: Record<string, Issued>;

function mailbox(issuer: Issued, email: string, usage: MailboxUsage = 'encrypt', validity = VALID): Promise<Issued> {
  return issueMailbox(issuer, { subject: [['C', 'DE'], ['O', 'Partnerbehoerde'], ['CN', email]], email, keySpec: 'p256', usage, ...validity });
}

function ldapConfig(overrides: Partial<Config['ldap']> = {}): Config['ldap'] {
  const base = configSchema.parse({ dataDir: dir, trustAnchors: dir, ldap: { servers: [slapd.url], baseDn: SUFFIX } }).ldap;
  return { ...base, ...overrides };
}

function lookupWith(overrides: Partial<Config['ldap']> = {}, clock: { now: Date } = { now: AT }): { directory: DirectoryLookup; log: LogLines } {
  const log = new LogLines();
  const directory = createDirectoryLookup({ ldap: ldapConfig(overrides), anchors, logger: createLogger('info', log), now: () => clock.now });
  return { directory, log };
}

/** A port nothing listens on (slapd's own port while it is stopped is used where a retry must reach it). */
const DEAD_SERVER = 'ldap://127.0.0.1:1';

beforeAll(async () => {
  dir = tempDir('siegel-ldap-');
  const [started, root, untrustedRoot] = await Promise.all([
    startSlapd(),
    createRootCa({ subject: [['C', 'DE'], ['O', 'Verwaltung'], ['CN', 'Verwaltungs-PKI Root']], keySpec: 'p256', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') }),
    createRootCa({ subject: [['C', 'DE'], ['O', 'Verwaltung'], ['CN', 'Verwaltungs-PKI Root']], keySpec: 'p256' }),
  ]);
  slapd = started;
  const [ca, untrustedCa] = await Promise.all([
    issueCa(root, { subject: [['C', 'DE'], ['O', 'Verwaltung'], ['CN', 'Behoerden-PKI CA']], keySpec: 'p256', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') }),
    issueCa(untrustedRoot, { subject: [['C', 'DE'], ['O', 'Verwaltung'], ['CN', 'Behoerden-PKI CA']], keySpec: 'p256' }),
  ]);
  trusted = { root, ca };
  anchors = trustStoreFromDer([root.certificate]).anchors;
  certs = {
    alice: await mailbox(ca, 'alice@partner.example'),
    noChain: await mailbox(ca, 'ohne-kette@partner.example'),
    stranger: await mailbox(untrustedCa, 'fremd@partner.example'),
    signOnly: await mailbox(ca, 'signatur@partner.example', 'sign'),
    expired: await mailbox(ca, 'abgelaufen@partner.example', 'encrypt', { notBefore: new Date('2023-01-01T00:00:00Z'), notAfter: new Date('2026-06-30T00:00:00Z') }),
    older: await mailbox(root, 'zwei@partner.example', 'encrypt', { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-06-01T00:00:00Z') }),
    newer: await mailbox(root, 'zwei@partner.example', 'encrypt', { notBefore: new Date('2026-09-01T00:00:00Z'), notAfter: new Date('2029-03-01T00:00:00Z') }),
    newerSignOnly: await mailbox(root, 'zwei@partner.example', 'sign', { notBefore: new Date('2026-10-01T00:00:00Z'), notAfter: new Date('2029-03-01T00:00:00Z') }),
    meta: await mailbox(ca, 'o(x)*y@partner.example'),
    internal: await mailbox(ca, 'intern@partner.example'),
    later: await mailbox(ca, 'spaeter@partner.example'),
  };
  const c = (name: string): Buffer => {
    const issued = certs[name];
    if (!issued) throw new Error(name);
    return issued.certificate;
  };
  slapd.add(
    [
      personLdif(dir, { cn: 'Alice', mail: 'alice@partner.example', certificates: [c('alice')], caCertificates: [ca.certificate] }),
      personLdif(dir, { cn: 'Ohne Kette', mail: 'ohne-kette@partner.example', certificates: [c('noChain')] }),
      personLdif(dir, { cn: 'Fremd', mail: 'fremd@partner.example', certificates: [c('stranger')], caCertificates: [untrustedCa.certificate] }),
      personLdif(dir, { cn: 'Signatur', mail: 'signatur@partner.example', certificates: [c('signOnly')], caCertificates: [ca.certificate] }),
      personLdif(dir, { cn: 'Abgelaufen', mail: 'abgelaufen@partner.example', certificates: [c('expired')], caCertificates: [ca.certificate] }),
      personLdif(dir, { cn: 'Zwei', mail: 'zwei@partner.example', certificates: [c('older'), c('newer'), c('newerSignOnly')] }),
      personLdif(dir, { cn: 'Klammer', mail: 'o(x)*y@partner.example', certificates: [c('meta')], caCertificates: [ca.certificate] }),
      personLdif(dir, { cn: 'Intern', parent: PROTECTED_OU, mail: 'intern@partner.example', certificates: [c('internal')], caCertificates: [ca.certificate] }),
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await slapd?.destroy();
});

function fingerprint(name: string): string {
  const issued = certs[name];
  if (!issued) throw new Error(name);
  return parseCertificate(issued.certificate).sha256;
}

function skipReasons(log: LogLines): string[] {
  return log.lines.filter((l) => l.msg === 'directory certificate not used').map((l) => String(l.reason));
}

describe('directory look-up against slapd', () => {
  it('finds a valid encryption certificate with the intermediate from the entry; capabilities are unknown', async () => {
    const { directory, log } = lookupWith();
    const found = await directory.lookup('Alice@Partner.example', AT);
    expect(found).toEqual<EncryptionCertificate>({
      address: 'alice@partner.example',
      certificate: certs.alice?.certificate ?? Buffer.alloc(0),
      fingerprint: fingerprint('alice'),
      capabilities: [],
      notAfter: VALID.notAfter,
    });
    expect(log.messages()).toContain('directory certificate found');
    await directory.close();
  });

  it('without cACertificate in the entry the path is built from the anchors alone', async () => {
    const { directory, log } = lookupWith();
    expect(await directory.lookup('ohne-kette@partner.example', AT)).toBeUndefined();
    expect(skipReasons(log)).toEqual([expect.stringMatching(/^no trusted path \((no-path|untrusted-root)/)]);
    await directory.close();
  });

  it('does not use a certificate from a CA that is not a configured anchor', async () => {
    const { directory, log } = lookupWith();
    expect(await directory.lookup('fremd@partner.example', AT)).toBeUndefined();
    expect(skipReasons(log)).toEqual([expect.stringMatching(/^no trusted path \((untrusted-root|no-path|bad-chain-signature)/)]);
    await directory.close();
  });

  it('never uses a sign-only certificate', async () => {
    const { directory, log } = lookupWith();
    expect(await directory.lookup('signatur@partner.example', AT)).toBeUndefined();
    expect(skipReasons(log)).toEqual(['its keyUsage does not allow encryption (sign-only)']);
    await directory.close();
  });

  it('does not use an expired certificate', async () => {
    const { directory, log } = lookupWith();
    expect(await directory.lookup('abgelaufen@partner.example', AT)).toBeUndefined();
    expect(skipReasons(log)).toEqual([expect.stringMatching(/^it is not valid now \(2023-01-01T00:00:00\.000Z to 2026-06-30T00:00:00\.000Z\)/)]);
    await directory.close();
  });

  it('of two valid certificates takes the newest notBefore (and skips a newer sign-only one)', async () => {
    const { directory, log } = lookupWith();
    const found = await directory.lookup('zwei@partner.example', AT);
    expect(found?.fingerprint).toBe(fingerprint('newer'));
    expect(found?.fingerprint).not.toBe(fingerprint('older'));
    expect(skipReasons(log)).toEqual(['its keyUsage does not allow encryption (sign-only)']);
    await directory.close();
  });

  it('escapes filter metacharacters: `*)(mail=*` matches nothing, an address with ( ) * matches exactly its entry', async () => {
    const { directory } = lookupWith();
    const before = slapd.searches();
    expect(await directory.lookup('*)(mail=*', AT)).toBeUndefined();
    expect(slapd.searches()).toBe(before + 1);
    const found = await directory.lookup('o(x)*y@partner.example', AT);
    expect(found?.fingerprint).toBe(fingerprint('meta'));
    // slapd logs the filter it evaluated: the metacharacters arrived as values, not as filter syntax.
    expect(slapd.log()).toMatch(/filter="\(mail=\\2A\\29\\28mail=\\2A\)"/i);
    expect(slapd.log()).toMatch(/filter="\(mail=o\\28x\\29\\2Ay@partner\.example\)"/i);
    await directory.close();
  });

  it('refuses an address with control characters without asking the directory', async () => {
    const { directory, log } = lookupWith();
    const before = slapd.searches();
    expect(await directory.lookup('alice@partner.example\u0000)(mail=*', AT)).toBeUndefined();
    expect(await directory.lookup('alice@partner.example\r\n', AT)).toBeDefined(); // trailing CRLF is trimmed, not an attack
    expect(slapd.searches()).toBe(before + 1);
    expect(log.lines).toContainEqual(expect.objectContaining({ msg: 'address not looked up in the directory', reason: 'the address contains control characters' }));
    await directory.close();
  });

  it('caches found and not-found answers: a second look-up does not reach slapd; not-found expires within the hour', async () => {
    const clock = { now: AT };
    const { directory } = lookupWith({ cacheTtl: 86_400_000 }, clock);
    const before = slapd.searches();
    expect((await directory.lookup('alice@partner.example', AT))?.fingerprint).toBe(fingerprint('alice'));
    expect(await directory.lookup('niemand@partner.example', AT)).toBeUndefined();
    expect(slapd.searches()).toBe(before + 2);

    clock.now = new Date(AT.getTime() + 30 * 60_000);
    expect((await directory.lookup('alice@partner.example', clock.now))?.fingerprint).toBe(fingerprint('alice'));
    expect(await directory.lookup('niemand@partner.example', clock.now)).toBeUndefined();
    expect(slapd.searches()).toBe(before + 2);

    // Past the not-found time the directory is asked again; the found certificate is still held (1 day).
    clock.now = new Date(AT.getTime() + NOT_FOUND_TTL_MS + 60_000);
    expect(await directory.lookup('niemand@partner.example', clock.now)).toBeUndefined();
    expect((await directory.lookup('alice@partner.example', clock.now))?.fingerprint).toBe(fingerprint('alice'));
    expect(slapd.searches()).toBe(before + 3);
    await directory.close();
  });

  it('a certificate published after a not-found is used once the not-found time is over', async () => {
    const clock = { now: AT };
    const { directory } = lookupWith({}, clock);
    expect(await directory.lookup('spaeter@partner.example', AT)).toBeUndefined();
    slapd.add(personLdif(dir, { cn: 'Spaeter', mail: 'spaeter@partner.example', certificates: [certs.later?.certificate ?? Buffer.alloc(0)], caCertificates: [trusted.ca.certificate] }));
    expect(await directory.lookup('spaeter@partner.example', AT)).toBeUndefined();
    clock.now = new Date(AT.getTime() + NOT_FOUND_TTL_MS + 1000);
    expect((await directory.lookup('spaeter@partner.example', clock.now))?.fingerprint).toBe(fingerprint('later'));
    await directory.close();
  });

  it('one search serves concurrent look-ups of the same address', async () => {
    const { directory } = lookupWith();
    const before = slapd.searches();
    const [a, b] = await Promise.all([directory.lookup('alice@partner.example', AT), directory.lookup('alice@partner.example', AT)]);
    expect(a?.fingerprint).toBe(fingerprint('alice'));
    expect(b?.fingerprint).toBe(fingerprint('alice'));
    expect(slapd.searches()).toBe(before + 1);
    await directory.close();
  });

  it('a directory that is down gives no certificate and a warning, is not cached, and the next look-up retries', async () => {
    const { directory, log } = lookupWith({ timeout: 3000 });
    await slapd.stop();
    try {
      expect(await directory.lookup('alice@partner.example', AT)).toBeUndefined();
    } finally {
      await slapd.start();
    }
    const warning = log.lines.find((l) => l.msg === 'directory look-up failed: the recipient gets no encryption from the directory this time; the next message asks again');
    expect(warning).toMatchObject({ level: 'warn', address: 'alice@partner.example' });
    expect(String((warning?.failures as string[] | undefined)?.[0])).toContain(slapd.url);
    const before = slapd.searches();
    expect((await directory.lookup('alice@partner.example', AT))?.fingerprint).toBe(fingerprint('alice'));
    expect(slapd.searches()).toBe(before + 1);
    await directory.close();
  }, 30_000);

  it('tries the servers in order: a dead first server is logged and the second answers', async () => {
    const { directory, log } = lookupWith({ servers: [DEAD_SERVER, slapd.url], timeout: 3000 });
    expect((await directory.lookup('alice@partner.example', AT))?.fingerprint).toBe(fingerprint('alice'));
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'directory server failed, the next one answered', answeredBy: slapd.url }));
    await directory.close();
  });

  it('binds with the DN and the password from ldap.passwordFile to see a protected subtree', async () => {
    const anonymous = lookupWith();
    expect(await anonymous.directory.lookup('intern@partner.example', AT)).toBeUndefined();
    await anonymous.directory.close();

    const passwordFile = path.join(dir, 'ldap-password');
    writeFileSync(passwordFile, `${READER_PASSWORD}\n`, { mode: 0o600 });
    const bound = lookupWith({ bindDn: READER_DN, passwordFile });
    expect((await bound.directory.lookup('intern@partner.example', AT))?.fingerprint).toBe(fingerprint('internal'));
    await bound.directory.close();

    const wrongFile = path.join(dir, 'ldap-wrong-password');
    writeFileSync(wrongFile, 'falsch\n', { mode: 0o600 });
    const wrong = lookupWith({ bindDn: READER_DN, passwordFile: wrongFile });
    expect(await wrong.directory.lookup('intern@partner.example', AT)).toBeUndefined();
    expect(wrong.log.lines).toContainEqual(expect.objectContaining({ level: 'warn', failures: [expect.stringMatching(/InvalidCredentialsError/)] }));
    await wrong.directory.close();
  });

  it('the harvested certificate wins: the directory is not asked when one is known', async () => {
    const { directory } = lookupWith();
    const harvested: EncryptionCertificate = { address: 'alice@partner.example', certificate: trusted.ca.certificate, fingerprint: 'harvested', capabilities: ['2.16.840.1.101.3.4.1.46'], notAfter: VALID.notAfter };
    const before = slapd.searches();
    const chain = firstFound(async (address) => (address === 'alice@partner.example' ? harvested : undefined), directory.lookup);
    expect(await chain('alice@partner.example', AT)).toBe(harvested);
    expect(slapd.searches()).toBe(before);
    expect((await chain('zwei@partner.example', AT))?.fingerprint).toBe(fingerprint('newer'));
    expect(slapd.searches()).toBe(before + 1);
    await directory.close();
  });

  it('refuses a configuration that cannot work', () => {
    const make = (overrides: Partial<Config['ldap']>) => () => createDirectoryLookup({ ldap: ldapConfig(overrides), anchors, logger: createLogger('silent') });
    expect(make({ filter: '(mail=alice@partner.example)' })).toThrow(SiegelError);
    expect(make({ filter: '(mail={address}' })).toThrow(/ldap\.filter/);
    expect(make({ servers: ['http://directory.example'] })).toThrow(/ldap\.servers/);
    expect(make({ baseDn: '' })).toThrow(/ldap\.baseDn/);
    expect(make({ bindDn: READER_DN })).toThrow(/ldap\.passwordFile/);
  });
});
