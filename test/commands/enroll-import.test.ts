import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../../src/commands/context.js';
import { enrollImport } from '../../src/commands/enroll-import.js';
import { openKeystore } from '../../src/keystore/open.js';
import { silentLogger } from '../../src/log.js';
import { AT, mailboxCert, opensslPkcs12, testPki, writePemFiles } from '../pki/test-pki.js';
import { testContext } from './command-context.js';

const MAILBOX = 'poststelle@stadt.example';
const PIN = 'Amt-PIN 0815';

async function p12File(dir: string, name: string, flavour: 'modern' | 'legacy' = 'modern', usage: 'sign' | 'encrypt' | 'both' = 'sign') {
  const pki = await testPki();
  const leaf = await mailboxCert(pki, { email: MAILBOX, usage });
  opensslPkcs12(dir, name, leaf, pki, PIN, flavour);
  const passFile = path.join(dir, `${name}.pin`);
  writeFileSync(passFile, `${PIN}\n`, { mode: 0o600 });
  return { p12: path.join(dir, `${name}.p12`), passFile, leaf, pki };
}

describe('siegel enroll import', () => {
  it('imports a PKCS#12 file and prints a confirmation', async () => {
    const t = testContext({ now: AT });
    const { p12, passFile, leaf } = await p12File(t.dir, 'sign');
    const code = await enrollImport(t.ctx, { mailbox: MAILBOX, p12, passphraseFile: passFile });
    expect(t.stderr()).toBe('');
    expect(code).toBe(ExitCode.ok);
    const out = t.stdout();
    expect(out).toMatch(/^Enrolled poststelle@stadt.example \(sign\)\n/);
    expect(out).toContain('subject:     CN=Mailbox poststelle@stadt.example,O=Stadt Test,C=DE');
    expect(out).toContain('issuer:      CN=Test Issuing CA rsa2048,O=Freistaat Test,C=DE');
    expect(out).toMatch(/serial: {6}[0-9A-F]+\n/);
    expect(out).toContain('valid until: 2029-01-01 (731 days left)');
    expect(out).toContain('chain:       1 CA certificate(s)');

    const keystore = openKeystore(t.ctx.config, t.ctx.env, t.ctx.now, silentLogger());
    try {
      expect((await keystore.signingIdentity(MAILBOX, AT))?.certificate.equals(leaf.certificate)).toBe(true);
    } finally {
      await keystore.close();
    }

    const again = testContext({ now: AT, dir: t.dir });
    expect(await enrollImport(again.ctx, { mailbox: MAILBOX, p12, passphraseFile: passFile })).toBe(ExitCode.ok);
    expect(again.stdout()).toMatch(/^Already enrolled: poststelle@stadt.example \(sign\), nothing changed/);
  });

  it('takes the passphrase from SIEGEL_P12_PASSPHRASE and reads legacy files', async () => {
    const t = testContext({ now: AT, env: { SIEGEL_P12_PASSPHRASE: PIN } });
    const { p12 } = await p12File(t.dir, 'legacy', 'legacy', 'encrypt');
    expect(await enrollImport(t.ctx, { mailbox: MAILBOX, p12 })).toBe(ExitCode.ok);
    expect(t.stdout()).toMatch(/^Enrolled poststelle@stadt.example \(encrypt\)/);
  });

  it('imports --cert/--key/--chain with an encrypted key', async () => {
    const t = testContext({ now: AT });
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX, usage: 'both', keySpec: 'p256' });
    const files = writePemFiles(t.dir, 'pair', leaf, pki);
    const encrypted = path.join(t.dir, 'pair-enc.key');
    execFileSync('openssl', ['pkcs8', '-topk8', '-in', files.key, '-out', encrypted, '-passout', 'pass:Schlüssel']);
    const keyPass = path.join(t.dir, 'key.pass');
    writeFileSync(keyPass, 'Schlüssel\r\n');
    const code = await enrollImport(t.ctx, { mailbox: MAILBOX, cert: files.cert, key: encrypted, chain: files.chain, keyPassphraseFile: keyPass });
    expect(t.stderr()).toBe('');
    expect(code).toBe(ExitCode.ok);
    expect(t.stdout()).toMatch(/^Enrolled poststelle@stadt.example \(both\)/);
  });

  it('exits 3 with the reason for a rejected identity', async () => {
    const t = testContext({ now: AT });
    const { p12, passFile } = await p12File(t.dir, 'reject');
    writeFileSync(passFile, 'wrong\n');
    expect(await enrollImport(t.ctx, { mailbox: MAILBOX, p12, passphraseFile: passFile })).toBe(ExitCode.rejected);
    expect(t.stderr()).toBe('siegel enroll import: wrong passphrase or damaged PKCS#12 file\n');

    const other = testContext({ now: AT, dir: t.dir });
    writeFileSync(passFile, PIN);
    expect(await enrollImport(other.ctx, { mailbox: 'info@stadt.example', p12, passphraseFile: passFile })).toBe(ExitCode.rejected);
    expect(other.stderr()).toMatch(/does not contain info@stadt.example in subjectAltName \(it has: poststelle@stadt.example\)/);

    const late = testContext({ now: new Date('2030-01-01T00:00:00Z'), dir: t.dir });
    expect(await enrollImport(late.ctx, { mailbox: MAILBOX, p12, passphraseFile: passFile })).toBe(ExitCode.rejected);
    expect(late.stderr()).toMatch(/expired on 2029-01-01/);
  });

  it('exits 2 for wrong option combinations and a missing passphrase', async () => {
    const t = testContext({ now: AT });
    expect(await enrollImport(t.ctx, { mailbox: MAILBOX })).toBe(ExitCode.usage);
    expect(await enrollImport(t.ctx, { mailbox: MAILBOX, p12: 'x.p12', cert: 'c.pem', key: 'k.pem' })).toBe(ExitCode.usage);
    expect(await enrollImport(t.ctx, { mailbox: MAILBOX, key: 'k.pem' })).toBe(ExitCode.usage);
    expect(await enrollImport(t.ctx, { mailbox: MAILBOX, p12: 'x.p12' })).toBe(ExitCode.usage);
    expect(t.stderr().split('\n')).toEqual([
      'siegel enroll import: give --p12 FILE, or --cert FILE with --key FILE',
      'siegel enroll import: give either --p12 or --cert with --key, not both',
      'siegel enroll import: --cert and --key go together',
      'siegel enroll import: the PKCS#12 passphrase is needed: give --passphrase-file FILE or set SIEGEL_P12_PASSPHRASE',
      '',
    ]);
  });

  it('exits 1 for a missing file or a missing master key', async () => {
    const t = testContext({ now: AT });
    const missing = path.join(t.dir, 'missing.p12');
    expect(await enrollImport(t.ctx, { mailbox: MAILBOX, p12: missing, passphraseFile: missing })).toBe(ExitCode.failure);
    expect(t.stderr()).toMatch(/cannot read passphrase file .*missing.p12: ENOENT/);

    const noKey = testContext({ now: AT, withMasterKeyFile: false });
    const { p12, passFile } = await p12File(noKey.dir, 'nokey');
    expect(await enrollImport(noKey.ctx, { mailbox: MAILBOX, p12, passphraseFile: passFile })).toBe(ExitCode.failure);
    expect(noKey.stderr()).toMatch(/no master key: set masterKeyFile/);
  });
});
