/**
 * NSS (the S/MIME stack inside Thunderbird) via `cmsutil -D`: a fresh
 * certificate DB holds only the root, trusted for e-mail ("C,C,C"); the
 * signer is checked for certUsageEmailSigner at the signing time.
 * `-h 1` prints the per-signer status; with it cmsutil exits 0 even for a
 * bad signature, so the status text is what is asserted (and the exit
 * code of a plain run besides).
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { run, tempDir } from './helpers.js';
import { createInteropFixtures, inDir, type InteropFixtures } from './interop-fixtures.js';

let fx: InteropFixtures;
let db: string;

function cmsutil(args: readonly string[]) {
  return run('cmsutil', ['-D', '-d', `sql:${db}`, ...args]);
}

beforeAll(async () => {
  fx = await createInteropFixtures('nss');
  db = tempDir('nssdb');
  expect(run('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']).status).toBe(0);
  expect(run('certutil', ['-A', '-d', `sql:${db}`, '-n', 'test-root', '-t', 'C,C,C', '-i', fx.rootPem]).status).toBe(0);
});

afterAll(() => {
  fx.cleanup();
  rmSync(db, { recursive: true, force: true });
});

const CASES = ['rsa2048', 'rsa3072', 'p256', 'split-rsa3072'];

function theCase(name: string) {
  const found = fx.cases.find((c) => c.name === name);
  if (!found) throw new Error(`no case ${name}`);
  return found;
}

describe('NSS cmsutil -D', () => {
  it.each(CASES)('finds a good signature on the detached signature with the entity as content (%s)', (name) => {
    const c = theCase(name);
    const report = cmsutil(['-i', c.p7s, '-c', fx.entityFile, '-n', '-h', '1']);
    expect(report.stdout).toContain('signer0.status=GoodSignature');
    expect(report.stdout).toContain(`signer0.id="${c.identity.mailbox}"`);
    const plain = cmsutil(['-i', c.p7s, '-c', fx.entityFile, '-o', inDir(fx, `${name}-nss-detached.out`)]);
    expect(plain.stderr).toBe('');
    expect(plain.status).toBe(0);
  });

  it.each(CASES)('finds a good signature on the opaque SignedData and returns the entity (%s)', (name) => {
    const c = theCase(name);
    const report = cmsutil(['-i', c.p7m, '-n', '-h', '1']);
    expect(report.stdout).toContain('signer0.status=GoodSignature');
    const out = path.join(fx.dir, `${name}-nss-opaque.out`);
    const plain = cmsutil(['-i', c.p7m, '-o', out]);
    expect(plain.status).toBe(0);
    expect(readFileSync(out).equals(fx.entity)).toBe(true);
  });

  it('reports a digest mismatch for a changed entity', () => {
    const c = theCase('p256');
    expect(cmsutil(['-i', c.p7s, '-c', fx.tamperedFile, '-n', '-h', '1']).stdout).toContain('signer0.status=DigestMismatch');
    const plain = cmsutil(['-i', c.p7s, '-c', fx.tamperedFile, '-o', inDir(fx, 'nss-tampered.out')]);
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toContain('SEC_ERROR_PKCS7_BAD_SIGNATURE');
  });
});
