/**
 * One PKCS#12 file with a mailbox's signing and encryption identities (as
 * some PKIs and Java keystores deliver them): `enroll import` enrolls both,
 * and signing then names the encryption certificate for replies.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../../src/commands/context.js';
import { enrollImport } from '../../src/commands/enroll-import.js';
import { openKeystore } from '../../src/keystore/open.js';
import { silentLogger } from '../../src/log.js';
import { AT, mailboxCert, opensslPkcs12, testPki } from '../pki/test-pki.js';
import { testContext } from './command-context.js';

const MAILBOX = 'bauamt@stadt.example';
const PIN = 'Bau-PIN 4711';

it('enrolls both identities from a two-key PKCS#12 file', async () => {
  const t = testContext({ now: AT });
  const pki = await testPki();
  const sign = await mailboxCert(pki, { email: MAILBOX, usage: 'sign' });
  const encrypt = await mailboxCert(pki, { email: MAILBOX, usage: 'encrypt' });
  const store = path.join(t.dir, 'both.p12');
  for (const [name, leaf] of [['b-sign', sign], ['b-encrypt', encrypt]] as const) {
    opensslPkcs12(t.dir, name, leaf, pki, PIN, 'modern');
    execFileSync('keytool', [
      '-importkeystore', '-noprompt',
      '-srckeystore', path.join(t.dir, `${name}.p12`), '-srcstoretype', 'PKCS12', '-srcstorepass', PIN,
      '-destkeystore', store, '-deststoretype', 'PKCS12', '-deststorepass', PIN,
    ], { stdio: 'pipe' });
  }
  const passFile = path.join(t.dir, 'pin');
  writeFileSync(passFile, PIN, { mode: 0o600 });

  const code = await enrollImport(t.ctx, { mailbox: MAILBOX, p12: store, passphraseFile: passFile });
  expect(t.stderr()).toBe('');
  expect(code).toBe(ExitCode.ok);
  expect(t.stdout()).toContain(`Enrolled ${MAILBOX} (sign)`);
  expect(t.stdout()).toContain(`Enrolled ${MAILBOX} (encrypt)`);

  const keystore = openKeystore(t.ctx.config, t.ctx.env, t.ctx.now, silentLogger());
  try {
    const identity = await keystore.signingIdentity(MAILBOX, AT);
    expect(identity?.certificate.equals(sign.certificate)).toBe(true);
    expect(identity?.encryptionCertificate?.equals(encrypt.certificate)).toBe(true);
    expect(identity?.chain).toHaveLength(1);
  } finally {
    await keystore.close();
  }
});
