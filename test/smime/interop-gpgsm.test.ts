/**
 * GnuPG's gpgsm (libksba) as the verifying peer. It gets only the root
 * (imported and trusted via trustlist.txt); the issuing CA must come from
 * the SignedData. CRL checks are off (--disable-crl-checks, no dirmngr):
 * the generated PKI publishes no CRLs.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, tempDir } from './helpers.js';
import { createInteropFixtures, type InteropFixtures } from './interop-fixtures.js';

let fx: InteropFixtures;
let home: string;

function gpgsm(args: readonly string[]) {
  return run('gpgsm', ['--homedir', home, '--batch', '--disable-crl-checks', '--disable-dirmngr', '--status-fd', '1', ...args]);
}

beforeAll(async () => {
  fx = await createInteropFixtures('gpgsm');
  home = tempDir('gnupg');
  chmodSync(home, 0o700);
  const imported = gpgsm(['--import', fx.rootPem]);
  expect(imported.status).toBe(0);
  // trustlist.txt: "<SHA-1 fingerprint with colons> S" marks an S/MIME root as trusted (read by gpg-agent).
  const fingerprint = new X509Certificate(fx.pki.root.certificate).fingerprint;
  writeFileSync(path.join(home, 'trustlist.txt'), `${fingerprint} S\n`);
});

afterAll(() => {
  // gpgsm started a gpg-agent for this homedir to read the trust list; stop exactly that one.
  run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
  fx.cleanup();
  rmSync(home, { recursive: true, force: true });
});

describe('gpgsm --verify', () => {
  it.each(['rsa2048', 'rsa3072', 'p256', 'split-rsa3072'])('reports a good, fully trusted signature (%s)', (name) => {
    const c = fx.cases.find((x) => x.name === name);
    if (!c) throw new Error(`no case ${name}`);
    const result = gpgsm(['--verify', c.p7s, fx.entityFile]);
    expect(result.stderr).toContain('Good signature from');
    expect(result.stdout).toMatch(/^\[GNUPG:\] GOODSIG /m);
    expect(result.stdout).toMatch(/^\[GNUPG:\] VALIDSIG /m);
    expect(result.stdout).toMatch(/^\[GNUPG:\] TRUST_FULLY/m);
    expect(result.stdout).not.toMatch(/BADSIG|ERRSIG/);
    expect(result.stderr).toContain(c.identity.mailbox);
    expect(result.status).toBe(0);
  });

  it('reports a bad signature over a changed entity', () => {
    const c = fx.cases[0];
    if (!c) throw new Error('no case');
    const result = gpgsm(['--verify', c.p7s, fx.tamperedFile]);
    expect(result.stdout).toMatch(/^\[GNUPG:\] BADSIG /m);
    expect(result.stderr).toContain('message digest attribute does not match');
    expect(result.status).not.toBe(0);
  });
});
