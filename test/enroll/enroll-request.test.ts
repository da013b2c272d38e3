/**
 * `siegel enroll request`: the PKCS#10 request as OpenSSL reads it, and the
 * pending key as the keystore holds it (sealed, the request's own key).
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { certsList } from '../../src/commands/certs-list.js';
import { ExitCode } from '../../src/commands/context.js';
import { enrollRequest } from '../../src/commands/enroll-request.js';
import { decryptPrivateKey } from '../../src/keystore/key-encryption.js';
import { loadMasterKey } from '../../src/keystore/master-key.js';
import { openIdentityStore } from '../../src/keystore/open.js';
import { readPemBlocks } from '../../src/pki/pem.js';
import { AT } from '../pki/test-pki.js';
import { testContext, type TestContext } from '../commands/command-context.js';

const MAILBOX = 'bauamt@stadt.example';
const PROFILE = { country: 'DE', organization: 'Stadt Musterstadt', organizationalUnit: 'Poststelle' };

function withProfile(t: TestContext): TestContext {
  const config = { ...t.ctx.config, enrollment: { ...t.ctx.config.enrollment, profile: PROFILE } };
  return { ...t, ctx: { ...t.ctx, config } };
}

function openssl(args: readonly string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('openssl', args, { input });
  return { status: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

async function pendingRecords(t: TestContext) {
  const store = openIdentityStore(t.ctx.config);
  try {
    return (await store.list()).filter((r) => r.state === 'pending');
  } finally {
    await store.close();
  }
}

function dataFiles(t: TestContext): Buffer[] {
  const dir = t.ctx.config.dataDir;
  return readdirSync(dir)
    .filter((name) => name.startsWith('siegel.db'))
    .map((name) => readFileSync(path.join(dir, name)));
}

describe('siegel enroll request', () => {
  it('writes an RSA request OpenSSL verifies, with the profile subject, the address and the usages', async () => {
    const t = withProfile(testContext({ now: AT }));
    const out = path.join(t.dir, 'bauamt.csr');
    const code = await enrollRequest(t.ctx, { mailbox: 'Bauamt@Stadt.Example', name: 'Bauamt', out });
    expect(t.stderr()).toBe('');
    expect(code).toBe(ExitCode.ok);
    expect(t.stdout()).toContain(`Certification request for ${MAILBOX} (signing and encryption) written to ${out}`);
    expect(t.stdout()).toContain('subject:      CN=Bauamt,OU=Poststelle,O=Stadt Musterstadt,C=DE');
    expect(t.stdout()).toContain('Hand the request to your registration authority');
    expect(t.stdout()).toContain(`siegel enroll import --mailbox ${MAILBOX} --cert FILE`);

    const verify = openssl(['req', '-verify', '-noout', '-in', out]);
    expect(verify.stderr + verify.stdout).toMatch(/verify OK/);
    expect(verify.status).toBe(0);
    const text = openssl(['req', '-text', '-noout', '-in', out]).stdout;
    expect(text).toMatch(/Subject: C ?= ?DE, O ?= ?Stadt Musterstadt, OU ?= ?Poststelle, CN ?= ?Bauamt/);
    expect(text).toContain(`email:${MAILBOX}`);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation, Key Encipherment/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+E-mail Protection/);
    expect(text).toContain('Public-Key: (3072 bit)');
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');

    // The pending record: the requested role and subject, the request itself, and the key sealed.
    const [record, ...more] = await pendingRecords(t);
    expect(more).toHaveLength(0);
    expect(record).toMatchObject({ mailbox: MAILBOX, role: 'both', state: 'pending', certificate: null, subject: 'CN=Bauamt,OU=Poststelle,O=Stadt Musterstadt,C=DE' });
    const csrDer = readPemBlocks(readFileSync(out, 'latin1'))[0]?.der;
    expect(record?.request?.equals(csrDer ?? Buffer.alloc(0))).toBe(true);
    const master = loadMasterKey(t.ctx.config, {}, () => undefined);
    const key = decryptPrivateKey(master, record?.encryptedKey ?? Buffer.alloc(0), 'test');
    const requestKey = openssl(['req', '-pubkey', '-noout', '-in', out]).stdout;
    expect(createPublicKey(key).export({ type: 'spki', format: 'pem' })).toBe(requestKey);
    const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
    for (const bytes of dataFiles(t)) {
      expect(bytes.includes('PRIVATE KEY')).toBe(false);
      expect(bytes.includes(pkcs8)).toBe(false);
    }

    // certs list shows the request as pending with the role asked for.
    const list = testContext({ now: AT, dir: t.dir });
    expect(await certsList(list.ctx, { json: true })).toBe(ExitCode.ok);
    expect(JSON.parse(list.stdout())).toEqual([
      expect.objectContaining({ mailbox: MAILBOX, role: 'both', state: 'pending', subject: 'CN=Bauamt,OU=Poststelle,O=Stadt Musterstadt,C=DE', daysLeft: null }),
    ]);
    const table = testContext({ now: AT, dir: t.dir });
    await certsList(table.ctx, {});
    expect(table.stdout().split('\n')[1]).toMatch(new RegExp(`^${MAILBOX}\\s+both\\s+pending\\s+CN=Bauamt`));
  });

  it('writes an EC P-256 request to stdout (guidance on stderr) and keeps several requests per mailbox', async () => {
    const t = withProfile(testContext({ now: AT }));
    expect(await enrollRequest(t.ctx, { mailbox: MAILBOX, key: 'p256', usage: 'encrypt' })).toBe(ExitCode.ok);
    const pem = t.stdout();
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n$/);
    expect(t.stderr()).toContain(`Certification request for ${MAILBOX} (encryption) written to standard output`);
    expect(t.stderr()).toContain('key:          ECC P-256, made here and stored encrypted');
    const verify = openssl(['req', '-verify', '-noout'], pem);
    expect(verify.status).toBe(0);
    const text = openssl(['req', '-text', '-noout'], pem).stdout;
    expect(text).toContain('ASN1 OID: prime256v1');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Key Agreement\n/);
    expect(text).toMatch(/Subject: C ?= ?DE, O ?= ?Stadt Musterstadt, OU ?= ?Poststelle, CN ?= ?bauamt@stadt.example/);

    const second = withProfile(testContext({ now: AT, dir: t.dir }));
    const out = path.join(t.dir, 'sign.csr');
    expect(await enrollRequest(second.ctx, { mailbox: MAILBOX, key: 'p256', usage: 'sign', out })).toBe(ExitCode.ok);
    expect(second.stdout()).toContain(`${MAILBOX} has 1 other pending request(s)`);
    expect(openssl(['req', '-text', '-noout', '-in', out]).stdout).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation\n/);
    const records = await pendingRecords(t);
    expect(records.map((r) => r.role).sort()).toEqual(['encrypt', 'sign']);
    expect(new Set(records.map((r) => r.publicKeySha256)).size).toBe(2);
  });

  it('refuses what is not an address or not a choice (exit 2) and stores nothing without a master key (exit 1)', async () => {
    const t = withProfile(testContext({ now: AT }));
    expect(await enrollRequest(t.ctx, { mailbox: 'Bauamt' })).toBe(ExitCode.usage);
    expect(await enrollRequest(t.ctx, { mailbox: MAILBOX, key: 'rsa2048' })).toBe(ExitCode.usage);
    expect(await enrollRequest(t.ctx, { mailbox: MAILBOX, usage: 'auth' })).toBe(ExitCode.usage);
    expect(t.stderr().split('\n')).toEqual([
      'siegel enroll request: --mailbox: "Bauamt" is not a mailbox address (expected local@domain)',
      'siegel enroll request: --key must be one of rsa3072, rsa4096, p256 (got "rsa2048")',
      'siegel enroll request: --usage must be one of sign, encrypt, both (got "auth")',
      '',
    ]);
    expect(t.stdout()).toBe('');

    const noKey = withProfile(testContext({ now: AT, withMasterKeyFile: false }));
    expect(await enrollRequest(noKey.ctx, { mailbox: MAILBOX, key: 'p256' })).toBe(ExitCode.failure);
    expect(noKey.stderr()).toMatch(/no master key/);
    expect(noKey.stdout()).toBe('');
    expect(await pendingRecords(noKey)).toEqual([]);
  });

  it('drops the pending key when the request cannot be written', async () => {
    const t = withProfile(testContext({ now: AT }));
    const blocker = path.join(t.dir, 'not-a-dir');
    writeFileSync(blocker, '');
    expect(await enrollRequest(t.ctx, { mailbox: MAILBOX, key: 'p256', out: path.join(blocker, 'x.csr') })).toBe(ExitCode.failure);
    expect(t.stderr()).toMatch(/^siegel enroll request: cannot write .*x\.csr: ENOTDIR\n$/);
    expect(await pendingRecords(t)).toEqual([]);
  });
});
