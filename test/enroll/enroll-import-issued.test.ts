/**
 * From request to first signed mail with a CA run by the openssl command:
 * `siegel enroll request`, `openssl ca` issues, `siegel enroll import
 * --cert` (PEM, DER, PKCS#7 certs-only; chain from the file, the trust
 * anchors or the caIssuers URL on a local HTTP server), `siegel outbound`
 * signs, and `openssl cms -verify` accepts the signature with the CA's root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli.js';
import { ExitCode } from '../../src/commands/context.js';
import { openKeystore } from '../../src/keystore/open.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { AT } from '../pki/test-pki.js';
import { certsOnlyBundle, createOpensslCa, pemToDer, type OpensslCa } from './openssl-ca.js';

interface CliResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

let dir: string;
let config: string;
let ca: OpensslCa;
let server: http.Server;
let baseUrl: string;
const served = new Map<string, Buffer>();

function collect(stream: PassThrough): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => stream.once('end', () => resolve(Buffer.concat(chunks))));
}

async function siegel(argv: readonly string[], stdinBytes: Buffer | string = ''): Promise<CliResult> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  stdin.end(stdinBytes);
  const code = await main(argv, { stdin, stdout, stderr, env: {}, now: () => AT });
  stdout.end();
  stderr.end();
  return { code, stdout: await out, stderr: (await err).toString('utf8') };
}

/** `siegel enroll request` through the CLI; returns the request file. */
async function request(mailbox: string, options: { key?: string; usage?: string; name?: string } = {}): Promise<string> {
  const out = path.join(dir, `${mailbox.split('@')[0]}-${options.usage ?? 'both'}-${Math.random().toString(36).slice(2, 8)}.csr`);
  const args = ['enroll', 'request', '--config', config, '--mailbox', mailbox, '--out', out, '--key', options.key ?? 'p256'];
  if (options.usage) args.push('--usage', options.usage);
  if (options.name) args.push('--name', options.name);
  const result = await siegel(args);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(ExitCode.ok);
  return out;
}

function message(from: string): Buffer {
  return Buffer.from(
    `From: Bauamt <${from}>\r\nTo: <buerger@example.org>\r\nSubject: Baugenehmigung\r\nDate: Fri, 01 Jan 2027 10:00:00 +0100\r\n` +
      `Message-ID: <enroll-${from}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDie Genehmigung ist erteilt.\r\n`,
  );
}

/** Signs a test mail from `mailbox` with `siegel outbound` and verifies it with openssl against the root alone. */
async function signAndVerify(mailbox: string): Promise<{ status: number | null; stderr: string; signerPublicKey: string }> {
  const signed = await siegel(['outbound', '--config', config], message(mailbox));
  expect(signed.stderr).toBe('');
  expect(signed.code).toBe(0);
  expect(signed.stdout.toString('latin1')).toMatch(/^Content-Type: multipart\/signed/im);
  const signerFile = path.join(dir, `signer-${mailbox}.pem`);
  const attime = String(Math.floor(AT.getTime() / 1000));
  const verified = spawnSync('openssl', ['cms', '-verify', '-CAfile', ca.rootPem, '-purpose', 'smimesign', '-attime', attime, '-signer', signerFile, '-out', '/dev/null'], {
    input: signed.stdout,
  });
  const signerPublicKey = verified.status === 0 ? execFileSync('openssl', ['x509', '-in', signerFile, '-pubkey', '-noout']).toString() : '';
  return { status: verified.status, stderr: verified.stderr.toString(), signerPublicKey };
}

function requestPublicKey(csr: string): string {
  return execFileSync('openssl', ['req', '-in', csr, '-pubkey', '-noout']).toString();
}

async function listing(): Promise<Array<{ mailbox: string; role: string; state: string; daysLeft: number | null }>> {
  const result = await siegel(['certs', 'list', '--config', config, '--json']);
  expect(result.code).toBe(ExitCode.ok);
  return JSON.parse(result.stdout.toString()) as Array<{ mailbox: string; role: string; state: string; daysLeft: number | null }>;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-enroll-'));
  ca = createOpensslCa(dir);
  mkdirSync(path.join(dir, 'anchors'));
  writeFileSync(path.join(dir, 'anchors', 'root.pem'), readFileSync(ca.rootPem));
  writeFileSync(path.join(dir, 'master.key'), 'bWFzdGVyLWtleS1mb3ItZW5yb2xsLXRlc3RzLTAxMjM0', { mode: 0o600 });
  config = path.join(dir, 'siegel.yaml');
  writeFileSync(
    config,
    'dataDir: data\ntrustAnchors: anchors\nmasterKeyFile: master.key\nenrollment:\n  profile:\n    organization: Stadt Musterstadt\n    organizationalUnit: Bauamt\n',
  );
  server = http.createServer((req, res) => {
    const body = served.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-cert' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  served.set('/ca.der', ca.issuingDer);
  served.set('/ca.p7c', readFileSync(certsOnlyBundle([ca.issuingPem], path.join(dir, 'issuing.p7c'), 'DER')));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('siegel enroll import of a certificate issued for a request', () => {
  it('imports a PEM certificate with its CA, signs with the request key, and openssl verifies the mail', async () => {
    const mailbox = 'bauamt@stadt.example';
    const csr = await request(mailbox, { key: 'rsa3072', name: 'Bauamt' });
    expect((await listing()).find((l) => l.mailbox === mailbox)).toMatchObject({ role: 'both', state: 'pending', daysLeft: null });

    const issued = ca.issue(csr, 'bauamt');
    const withChain = path.join(dir, 'bauamt-with-chain.pem');
    writeFileSync(withChain, readFileSync(issued, 'utf8') + readFileSync(ca.issuingPem, 'utf8'));
    const imported = await siegel(['enroll', 'import', '--config', config, '--mailbox', mailbox, '--cert', withChain]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(ExitCode.ok);
    const out = imported.stdout.toString();
    expect(out).toMatch(/^Enrolled bauamt@stadt.example \(both\)\n/);
    expect(out).toContain('subject:     CN=Bauamt,OU=Bauamt,O=Stadt Musterstadt,C=DE');
    expect(out).toContain('issuer:      CN=OpenSSL Issuing CA,O=Freistaat OpenSSL,C=DE');
    expect(out).toContain('valid until: 2029-01-01 (731 days left)');
    expect(out).toContain('chain:       1 CA certificate(s)');

    // The pending record became the active identity.
    expect((await listing()).filter((l) => l.mailbox === mailbox)).toEqual([expect.objectContaining({ role: 'both', state: 'active', daysLeft: 731 })]);
    // The same file again: nothing pending any more, but nothing to refuse either.
    const again = await siegel(['enroll', 'import', '--config', config, '--mailbox', mailbox, '--cert', withChain]);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(ExitCode.ok);
    expect(again.stdout.toString()).toMatch(/^Already enrolled: bauamt@stadt.example \(both\), nothing changed\n/);

    const verified = await signAndVerify(mailbox);
    expect(verified.stderr).toContain('Verification successful');
    expect(verified.status).toBe(0);
    expect(verified.signerPublicKey).toBe(requestPublicKey(csr));

    // The key is stored sealed: neither PEM nor its PKCS#8 bytes are in the database files.
    const keystore = openKeystore(loadConfig({ file: config, env: {} }), {}, () => AT, silentLogger());
    const identity = await keystore.signingIdentity(mailbox, AT);
    await keystore.close();
    const pkcs8 = identity?.privateKey.export({ type: 'pkcs8', format: 'der' }) ?? Buffer.from('missing');
    for (const name of readdirSync(path.join(dir, 'data')).filter((n) => n.startsWith('siegel.db'))) {
      const bytes = readFileSync(path.join(dir, 'data', name));
      expect(bytes.includes('PRIVATE KEY')).toBe(false);
      expect(bytes.includes(pkcs8)).toBe(false);
    }
  });

  it('imports DER with --chain, and a DER certificate alone with a warning about the incomplete chain', async () => {
    const mailbox = 'standesamt@stadt.example';
    const csr = await request(mailbox, { usage: 'sign' });
    const der = pemToDer(ca.issue(csr, 'standesamt'), path.join(dir, 'standesamt.cer'));
    const imported = await siegel(['enroll', 'import', '--config', config, '--mailbox', mailbox, '--cert', der, '--chain', ca.issuingPem]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(ExitCode.ok);
    expect(imported.stdout.toString()).toMatch(/^Enrolled standesamt@stadt.example \(sign\)\n[^]*chain: {7}1 CA certificate\(s\)/);
    expect((await signAndVerify(mailbox)).status).toBe(0);

    const lone = 'ordnungsamt@stadt.example';
    const loneDer = pemToDer(ca.issue(await request(lone, { usage: 'sign' }), 'ordnungsamt'), path.join(dir, 'ordnungsamt.der'));
    const alone = await siegel(['enroll', 'import', '--config', config, '--mailbox', lone, '--cert', loneDer]);
    expect(alone.code).toBe(ExitCode.ok);
    expect(alone.stderr).toBe(
      'siegel enroll import: warning: the chain of "CN=ordnungsamt@stadt.example,OU=Bauamt,O=Stadt Musterstadt,C=DE" is incomplete: ' +
        'the issuer of "CN=ordnungsamt@stadt.example, OU=Bauamt, O=Stadt Musterstadt, C=DE" is neither in the file nor among the trust anchors, ' +
        'and it names no caIssuers URL; imported anyway, signatures carry the 0 CA certificate(s) known\n',
    );
    expect(alone.stdout.toString()).toMatch(/^Enrolled ordnungsamt@stadt.example \(sign\)\n[^]*chain: {7}0 CA certificate\(s\)/);
    const unverifiable = await signAndVerify(lone);
    expect(unverifiable.status).not.toBe(0);
    expect(unverifiable.stderr).toContain('unable to get local issuer certificate');
  });

  it('imports the signing and encryption certificates of one mailbox from a PKCS#7 bundle (DER), and from PEM PKCS7', async () => {
    const mailbox = 'poststelle@stadt.example';
    const signCsr = await request(mailbox, { usage: 'sign' });
    const encryptCsr = await request(mailbox, { usage: 'encrypt', key: 'rsa3072' });
    const signPem = ca.issue(signCsr, 'poststelle-sign');
    const encryptPem = ca.issue(encryptCsr, 'poststelle-encrypt');
    const bundle = certsOnlyBundle([signPem, encryptPem, ca.issuingPem, ca.rootPem], path.join(dir, 'poststelle.p7b'), 'DER');
    const imported = await siegel(['enroll', 'import', '--config', config, '--mailbox', mailbox, '--cert', bundle]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(ExitCode.ok);
    const out = imported.stdout.toString();
    expect(out).toMatch(/^Enrolled poststelle@stadt.example \(sign\)\n/m);
    expect(out).toMatch(/^Enrolled poststelle@stadt.example \(encrypt\)\n/m);
    expect(out.match(/chain: {7}1 CA certificate\(s\)/g)).toHaveLength(2);
    const mine = (await listing()).filter((l) => l.mailbox === mailbox);
    expect(mine.map((l) => `${l.role}/${l.state}`).sort()).toEqual(['encrypt/active', 'sign/active']);

    const verified = await signAndVerify(mailbox);
    expect(verified.status).toBe(0);
    expect(verified.signerPublicKey).toBe(requestPublicKey(signCsr));

    const pemMailbox = 'kaemmerei@stadt.example';
    const pemBundle = certsOnlyBundle([ca.issue(await request(pemMailbox), 'kaemmerei'), ca.issuingPem], path.join(dir, 'kaemmerei.p7c'), 'PEM');
    expect(readFileSync(pemBundle, 'latin1')).toMatch(/^-----BEGIN PKCS7-----/);
    const fromPem = await siegel(['enroll', 'import', '--config', config, '--mailbox', pemMailbox, '--cert', pemBundle]);
    expect(fromPem.stderr).toBe('');
    expect(fromPem.code).toBe(ExitCode.ok);
    expect((await signAndVerify(pemMailbox)).status).toBe(0);
  });

  it('refuses a certificate for another key (exit 3) and names the pending requests; without any request --key is needed (exit 2)', async () => {
    const mailbox = 'hauptamt@stadt.example';
    await request(mailbox, { usage: 'sign' });
    // A request made elsewhere for the same address: its certificate does not fit Siegel's key.
    const foreignCsr = path.join(dir, 'foreign.csr');
    execFileSync('openssl', [
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'foreign.key'),
      '-subj', '/C=DE/O=Stadt Musterstadt/CN=Hauptamt', '-addext', `subjectAltName=email:${mailbox}`,
      '-addext', 'keyUsage=critical,digitalSignature,nonRepudiation', '-addext', 'extendedKeyUsage=emailProtection', '-out', foreignCsr,
    ], { stdio: 'pipe' });
    const foreign = ca.issue(foreignCsr, 'foreign');
    const refused = await siegel(['enroll', 'import', '--config', config, '--mailbox', mailbox, '--cert', foreign]);
    expect(refused.code).toBe(ExitCode.rejected);
    const lines = refused.stderr.split('\n');
    expect(lines[0]).toBe(`siegel enroll import: ${foreign}: no certificate matches a pending request of ${mailbox}; was it issued for another request or another mailbox?`);
    expect(lines[1]).toBe('Certificates in the file:');
    expect(lines[2]).toMatch(/^ {2}CN=Hauptamt, O=Stadt Musterstadt, C=DE \(key sha256:[0-9a-f]{16}\)$/);
    expect(lines[3]).toBe(`Pending requests of ${mailbox}:`);
    expect(lines[4]).toMatch(/^ {2}pending-[0-9a-f-]{36} {2}sign {2}CN=hauptamt@stadt.example,OU=Bauamt,O=Stadt Musterstadt,C=DE {2}requested 2027-01-01 \(key sha256:[0-9a-f]{16}\)$/);
    expect((await listing()).filter((l) => l.mailbox === mailbox).map((l) => l.state)).toEqual(['pending']);

    const none = await siegel(['enroll', 'import', '--config', config, '--mailbox', 'niemand@stadt.example', '--cert', foreign]);
    expect(none.code).toBe(ExitCode.usage);
    expect(none.stderr).toBe(
      'siegel enroll import: --cert without --key imports a certificate issued for a request made with `siegel enroll request`, and niemand@stadt.example has no pending request; give --key FILE for a key made elsewhere\n',
    );
  });

  it('completes the chain from the caIssuers URL (DER and certs-only), and imports with a warning when the URL fails', async () => {
    const mailbox = 'jugendamt@stadt.example';
    const leaf = ca.issue(await request(mailbox, { usage: 'sign' }), 'jugendamt', { aiaUrl: `${baseUrl}/ca.der` });
    const imported = await siegel(['enroll', 'import', '--config', config, '--mailbox', mailbox, '--cert', leaf]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(ExitCode.ok);
    expect(imported.stdout.toString()).toContain(`Fetched CA certificate from ${baseUrl}/ca.der\n`);
    expect(imported.stdout.toString()).toContain('chain:       1 CA certificate(s)');
    // The downloaded intermediate travels in the signature: the root alone verifies it.
    expect((await signAndVerify(mailbox)).status).toBe(0);

    const bundled = 'sozialamt@stadt.example';
    const viaP7c = ca.issue(await request(bundled, { usage: 'sign' }), 'sozialamt', { aiaUrl: `${baseUrl}/ca.p7c` });
    const second = await siegel(['enroll', 'import', '--config', config, '--mailbox', bundled, '--cert', viaP7c]);
    expect(second.stderr).toBe('');
    expect(second.stdout.toString()).toContain(`Fetched CA certificate from ${baseUrl}/ca.p7c\n`);
    expect((await signAndVerify(bundled)).status).toBe(0);

    const broken = 'umweltamt@stadt.example';
    const missing = ca.issue(await request(broken, { usage: 'sign' }), 'umweltamt', { aiaUrl: `${baseUrl}/gone.der` });
    const warned = await siegel(['enroll', 'import', '--config', config, '--mailbox', broken, '--cert', missing]);
    expect(warned.code).toBe(ExitCode.ok);
    expect(warned.stderr).toContain(`could not be downloaded from ${baseUrl}/gone.der: HTTP 404; imported anyway`);
    expect((await listing()).find((l) => l.mailbox === broken)?.state).toBe('active');
  });
});
