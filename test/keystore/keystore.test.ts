import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, sign, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SiegelError } from '../../src/errors.js';
import { Keystore, spkiHash, type ImportRequest } from '../../src/keystore/keystore.js';
import { MasterKey } from '../../src/keystore/master-key.js';
import { SqliteIdentityStore } from '../../src/keystore/sqlite-identity-store.js';
import type { Issued } from '../../src/pki/generate.js';
import { readPemBlocks } from '../../src/pki/pem.js';
import { AT, VALID_TO, mailboxCert, tempDir, testPki, type TestPki } from '../pki/test-pki.js';

const MAILBOX = 'poststelle@stadt.example';
const master = new MasterKey(Buffer.from('a-master-key-for-tests-only-0123456789'), 'test');

interface Fixture {
  keystore: Keystore;
  store: SqliteIdentityStore;
  dataDir: string;
}

const open: Fixture[] = [];

function fixture(masterKey = master, dataDir = path.join(tempDir('siegel-keystore-'), 'data')): Fixture {
  const store = SqliteIdentityStore.open(dataDir);
  const keystore = new Keystore(store, masterKey, () => AT);
  const f = { keystore, store, dataDir };
  open.push(f);
  return f;
}

afterEach(async () => {
  for (const f of open.splice(0)) await f.keystore.close();
});

function request(leaf: Issued, pki: TestPki, mailbox = MAILBOX): ImportRequest {
  return { mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [pki.ca.certificate, pki.root.certificate] };
}

async function rejected(promise: Promise<unknown>): Promise<string> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SiegelError);
  expect((err as SiegelError).code).toBe('ENROLL_REJECTED');
  return (err as SiegelError).message;
}

describe('Keystore.importIdentity', () => {
  it('stores a valid identity with its role, the chain without root, and the key encrypted', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX, usage: 'sign' });
    const { keystore, store, dataDir } = fixture();
    const result = await keystore.importIdentity(request(leaf, pki, 'PostStelle@Stadt.Example'), AT);
    expect(result.created).toBe(true);
    expect(result.identity).toMatchObject({ mailbox: MAILBOX, role: 'sign', state: 'active', notAfter: VALID_TO, createdAt: AT });
    const record = await store.get(result.identity.id);
    expect(record?.chain).toEqual([pki.ca.certificate]);
    expect(record?.publicKeySha256).toBe(spkiHash(new X509Certificate(leaf.certificate)));

    // Rule 8: no plaintext key in the database files.
    const pkcs8 = leaf.privateKey.export({ type: 'pkcs8', format: 'der' });
    const pkcs1 = leaf.privateKey.export({ type: 'pkcs1', format: 'der' });
    const files = ['', '-wal'].map((suffix) => path.join(dataDir, `siegel.db${suffix}`)).filter((file) => existsSync(file));
    const contents = Buffer.concat(files.map((file) => readFileSync(file)));
    // The search works: the certificate is stored in the clear (it is public).
    expect(contents.includes(leaf.certificate)).toBe(true);
    expect(contents.includes(pkcs8)).toBe(false);
    expect(contents.includes(pkcs1.subarray(pkcs1.length - 64))).toBe(false);
  });

  it('is idempotent for the same certificate and refuses it for another mailbox', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: [MAILBOX, 'info@stadt.example'] });
    const { keystore } = fixture();
    expect((await keystore.importIdentity(request(leaf, pki), AT)).created).toBe(true);
    const again = await keystore.importIdentity(request(leaf, pki), AT);
    expect(again.created).toBe(false);
    expect(await keystore.list()).toHaveLength(1);
    expect(await rejected(keystore.importIdentity(request(leaf, pki, 'info@stadt.example'), AT))).toMatch(/already enrolled for poststelle@stadt.example/);
  });

  it('rejects a key that does not belong to the certificate', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX });
    const other = await mailboxCert(pki, { email: MAILBOX });
    const message = await rejected(fixture().keystore.importIdentity({ ...request(leaf, pki), privateKey: other.privateKey }, AT));
    expect(message).toMatch(/^the private key does not belong to the certificate for "CN=Mailbox poststelle@stadt.example,O=Stadt Test,C=DE" \(serial [0-9A-F]+\)$/);
  });

  it('rejects a certificate without the mailbox in subjectAltName, listing what it has', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: ['a@stadt.example', 'b@stadt.example'] });
    const message = await rejected(fixture().keystore.importIdentity(request(leaf, pki), AT));
    expect(message).toMatch(/does not contain poststelle@stadt.example in subjectAltName \(it has: a@stadt.example, b@stadt.example\)$/);
  });

  it('rejects an expired and a not yet valid certificate at the injected time', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX });
    const { keystore } = fixture();
    expect(await rejected(keystore.importIdentity(request(leaf, pki), new Date('2029-01-02T00:00:00Z')))).toMatch(
      /expired on 2029-01-01T00:00:00.000Z$/,
    );
    expect(await rejected(keystore.importIdentity(request(leaf, pki), new Date('2025-12-31T00:00:00Z')))).toMatch(
      /is not valid before 2026-01-01T00:00:00.000Z$/,
    );
  });

  it('rejects a CA certificate', async () => {
    const pki = await testPki();
    const message = await rejected(
      fixture().keystore.importIdentity({ mailbox: MAILBOX, privateKey: pki.ca.privateKey, certificate: pki.ca.certificate, chain: [] }, AT),
    );
    expect(message).toMatch(/is a CA certificate \(basicConstraints cA=true\); import the mailbox's own certificate$/);
  });

  it('rejects certificates not meant for e-mail, and names a DN-only address', async () => {
    const dir = tempDir('siegel-keystore-openssl-');
    const make = (name: string, subject: string, extensions: string[]): ImportRequest => {
      const key = path.join(dir, `${name}.key`);
      const cert = path.join(dir, `${name}.pem`);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '3650', '-subj', subject,
        ...extensions.flatMap((e) => ['-addext', e])], { stdio: 'ignore' });
      const der = readPemBlocks(readFileSync(cert, 'utf8'))[0]?.der ?? Buffer.alloc(0);
      return { mailbox: MAILBOX, privateKey: createPrivateKey(readFileSync(key)), certificate: der, chain: [] };
    };
    const { keystore } = fixture();
    // openssl req -x509 starts validity at the current second; check a day later.
    const now = new Date(Date.now() + 86_400_000);
    const tls = make('tls', '/CN=tls', ['basicConstraints=critical,CA:FALSE', `subjectAltName=email:${MAILBOX}`, 'extendedKeyUsage=serverAuth,clientAuth']);
    expect(await rejected(keystore.importIdentity(tls, now))).toMatch(/is not for e-mail: its extendedKeyUsage lists serverAuth, clientAuth but not emailProtection$/);
    const crlSigner = make('crl', '/CN=crl', ['basicConstraints=critical,CA:FALSE', `subjectAltName=email:${MAILBOX}`, 'keyUsage=critical,cRLSign']);
    expect(await rejected(keystore.importIdentity(crlSigner, now))).toMatch(/allows neither signing nor encryption \(keyUsage: cRLSign; key rsa\)$/);
    const dnOnly = make('dn', `/CN=dn/emailAddress=${MAILBOX}`, ['basicConstraints=critical,CA:FALSE']);
    expect(await rejected(keystore.importIdentity(dnOnly, now))).toMatch(
      /\(it has no e-mail address there\); poststelle@stadt.example appears only in the legacy emailAddress attribute/,
    );
  });

  it('rejects an address that is not a mailbox', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX });
    expect(await rejected(fixture().keystore.importIdentity(request(leaf, pki, 'poststelle'), AT))).toMatch(/is not a mailbox address/);
  });

  it('replaces a pending request for the same key', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX });
    const { keystore, store } = fixture();
    await store.put({
      id: 'pending-1',
      mailbox: MAILBOX,
      role: 'both',
      state: 'pending',
      certificate: null,
      chain: [],
      encryptedKey: Buffer.from('sealed'),
      publicKeySha256: spkiHash(new X509Certificate(leaf.certificate)),
      request: Buffer.from('csr'),
      subject: null,
      issuer: null,
      serial: null,
      notBefore: null,
      notAfter: null,
      createdAt: AT,
    });
    await keystore.importIdentity(request(leaf, pki), AT);
    expect(await store.get('pending-1')).toBeUndefined();
    expect(await store.list()).toHaveLength(1);
  });
});

describe('Keystore.signingIdentity', () => {
  const data = Buffer.from('signed content');

  function signsFor(certificate: Buffer, key: Parameters<typeof sign>[2]): boolean {
    const x509 = new X509Certificate(certificate);
    return verify('sha256', data, x509.publicKey, sign('sha256', data, key));
  }

  it('pairs the signing certificate with the separate encryption certificate (Behörden-PKI)', async () => {
    const pki = await testPki();
    const signCert = await mailboxCert(pki, { email: MAILBOX, usage: 'sign', keySpec: 'rsa3072' });
    const encCert = await mailboxCert(pki, { email: MAILBOX, usage: 'encrypt', keySpec: 'rsa3072' });
    const { keystore } = fixture();
    await keystore.importIdentity(request(encCert, pki), AT);
    await keystore.importIdentity(request(signCert, pki), AT);
    const identity = await keystore.signingIdentity('PostStelle@stadt.example', AT);
    expect(identity?.mailbox).toBe(MAILBOX);
    expect(identity?.certificate.equals(signCert.certificate)).toBe(true);
    expect(identity?.encryptionCertificate?.equals(encCert.certificate)).toBe(true);
    expect(identity?.chain).toEqual([pki.ca.certificate]);
    expect(identity && signsFor(identity.certificate, identity.privateKey)).toBe(true);
    // Decrypted once, then served from memory.
    expect((await keystore.signingIdentity(MAILBOX, AT))?.privateKey).toBe(identity?.privateKey);
  });

  it('uses a both-usage certificate for encryption too, and none for a sign-only mailbox', async () => {
    const pki = await testPki();
    const both = await mailboxCert(pki, { email: MAILBOX, usage: 'both', keySpec: 'p256' });
    const signOnly = await mailboxCert(pki, { email: 'sign-only@stadt.example', usage: 'sign' });
    const encOnly = await mailboxCert(pki, { email: 'enc-only@stadt.example', usage: 'encrypt' });
    const { keystore } = fixture();
    await keystore.importIdentity(request(both, pki), AT);
    await keystore.importIdentity(request(signOnly, pki, 'sign-only@stadt.example'), AT);
    await keystore.importIdentity(request(encOnly, pki, 'enc-only@stadt.example'), AT);
    const identity = await keystore.signingIdentity(MAILBOX, AT);
    expect(identity?.encryptionCertificate?.equals(both.certificate)).toBe(true);
    expect(identity && signsFor(identity.certificate, identity.privateKey)).toBe(true);
    expect((await keystore.signingIdentity('sign-only@stadt.example', AT))?.encryptionCertificate).toBeUndefined();
    expect(await keystore.signingIdentity('enc-only@stadt.example', AT)).toBeUndefined();
    expect(await keystore.signingIdentity('unknown@stadt.example', AT)).toBeUndefined();
  });

  it('rolls over to the renewed certificates once they are valid', async () => {
    const pki = await testPki();
    const at = (iso: string) => new Date(iso);
    const oldSign = await mailboxCert(pki, { email: MAILBOX, usage: 'sign', notBefore: at('2026-01-01T00:00:00Z'), notAfter: at('2029-01-01T00:00:00Z') });
    const oldEnc = await mailboxCert(pki, { email: MAILBOX, usage: 'encrypt', notBefore: at('2026-01-01T00:00:00Z'), notAfter: at('2029-01-01T00:00:00Z') });
    const newSign = await mailboxCert(pki, { email: MAILBOX, usage: 'sign', notBefore: at('2028-10-01T00:00:00Z'), notAfter: at('2031-10-01T00:00:00Z') });
    const newEnc = await mailboxCert(pki, { email: MAILBOX, usage: 'encrypt', notBefore: at('2028-11-01T00:00:00Z'), notAfter: at('2031-11-01T00:00:00Z') });
    const { keystore } = fixture();
    // The renewal is imported before it starts to be valid (import checks at its own time).
    await keystore.importIdentity(request(oldSign, pki), AT);
    await keystore.importIdentity(request(oldEnc, pki), AT);
    await keystore.importIdentity(request(newSign, pki), at('2028-10-15T00:00:00Z'));
    await keystore.importIdentity(request(newEnc, pki), at('2028-11-15T00:00:00Z'));

    const pick = async (iso: string) => {
      const identity = await keystore.signingIdentity(MAILBOX, at(iso));
      if (!identity) return undefined;
      const name = (der: Buffer | undefined) =>
        [['oldSign', oldSign], ['newSign', newSign], ['oldEnc', oldEnc], ['newEnc', newEnc]].find(([, c]) => der && (c as Issued).certificate.equals(der))?.[0];
      return [name(identity.certificate), name(identity.encryptionCertificate)];
    };
    expect(await pick('2028-09-30T23:59:59Z')).toEqual(['oldSign', 'oldEnc']);
    expect(await pick('2028-10-01T00:00:00Z')).toEqual(['newSign', 'oldEnc']);
    expect(await pick('2028-11-01T00:00:00Z')).toEqual(['newSign', 'newEnc']);
    expect(await pick('2030-01-01T00:00:00Z')).toEqual(['newSign', 'newEnc']);
    expect(await pick('2031-10-01T00:00:01Z')).toBeUndefined();
  });

  it('ignores retired and pending identities', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX });
    const { keystore, store } = fixture();
    const { identity } = await keystore.importIdentity(request(leaf, pki), AT);
    const record = await store.get(identity.id);
    if (!record) throw new Error('record missing');
    await store.put({ ...record, state: 'retired' });
    expect(await keystore.signingIdentity(MAILBOX, AT)).toBeUndefined();
  });

  it('reports an identity sealed under another master key as unavailable', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX });
    const first = fixture();
    await first.keystore.importIdentity(request(leaf, pki), AT);
    const other = new MasterKey(Buffer.from('another-master-key-for-tests-0123456789'), 'other');
    const second = fixture(other, first.dataDir);
    const err: unknown = await second.keystore.signingIdentity(MAILBOX, AT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SiegelError);
    expect((err as SiegelError).code).toBe('IDENTITY_UNAVAILABLE');
    expect((err as SiegelError).message).toMatch(/encrypted under another master key/);
  });

  it('refuses a sealed key copied onto another identity', async () => {
    const pki = await testPki();
    const a = await mailboxCert(pki, { email: MAILBOX });
    const b = await mailboxCert(pki, { email: 'b@stadt.example' });
    const { keystore, store } = fixture();
    const ra = await store.get((await keystore.importIdentity(request(a, pki), AT)).identity.id);
    const rb = await store.get((await keystore.importIdentity(request(b, pki, 'b@stadt.example'), AT)).identity.id);
    if (!ra || !rb) throw new Error('records missing');
    await store.put({ ...ra, encryptedKey: rb.encryptedKey });
    const err: unknown = await keystore.signingIdentity(MAILBOX, AT).catch((e: unknown) => e);
    expect((err as SiegelError).code).toBe('IDENTITY_UNAVAILABLE');
    expect((err as SiegelError).message).toMatch(/does not match its certificate/);
  });

  it('sees identities enrolled through another handle at once (CLI while serving)', async () => {
    const pki = await testPki();
    const leaf = await mailboxCert(pki, { email: MAILBOX });
    const server = fixture();
    expect(await server.keystore.signingIdentity(MAILBOX, AT)).toBeUndefined();
    const cli = fixture(master, server.dataDir);
    await cli.keystore.importIdentity(request(leaf, pki), AT);
    expect((await server.keystore.signingIdentity(MAILBOX, AT))?.certificate.equals(leaf.certificate)).toBe(true);
  });
});
