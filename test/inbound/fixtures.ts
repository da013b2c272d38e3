/**
 * Shared set-up for the inbound tests: a trusted PKI (RSA-2048/3072 and
 * P-256 signers, an RSA-1024 one made by openssl, an expired one), a second
 * root nobody configured (its signers: a stranger and a spoof of a known
 * address), a gateway directory with an enrolled RSA and an EC mailbox,
 * and makers of messages by the real peers (openssl cms/smime, gpgsm,
 * NSS cmsutil, Python cryptography) as mail clients would send them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { inboundFilter } from '../../src/commands/inbound.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { openKeystore } from '../../src/keystore/open.js';
import type { HarvestedRecord } from '../../src/keystore/harvested-store.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { silentLogger } from '../../src/log.js';
import { issueMailbox, type Issued, type KeySpec, type MailboxUsage } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { AT, createPki, gpgsmSignDetached, nssSign, pythonSign, writeSigner, type Pki, type SignerFiles } from '../verify/fixtures.js';

export { AT };

export const AUTHSERV_ID = 'siegel.stadt.example';
export const PARTNER = 'erika.mustermann@partner.example';

export interface Party {
  readonly email: string;
  readonly issued: Pick<Issued, 'certificate' | 'privateKey'>;
  readonly files: SignerFiles;
}

export interface InboundFixtures {
  readonly dir: string;
  readonly trusted: Pki;
  readonly untrusted: Pki;
  /** PEM file of the trusted root (for the verifying peers). */
  readonly rootPem: string;
  readonly signers: {
    /** RSA-2048, sign+encrypt usage, the partner the city knows. */
    readonly rsa2048: Party;
    readonly rsa3072: Party;
    readonly p256: Party;
    /** RSA-1024 leaf made by openssl under the trusted CA. */
    readonly rsa1024: Party;
    /** Valid 2024-01-01 .. 2025-06-30, the tests run at 2027-01-01. */
    readonly expired: Party;
    /** Under the root nobody configured, an address nobody knows. */
    readonly stranger: Party;
    /** Under the root nobody configured, for the partner's address. */
    readonly spoof: Party;
  };
  /** Enrolled mailboxes (encryption certificates) of the gateway. */
  readonly mailboxes: { readonly rsa: Party; readonly ec: Party };
  /** An encryption certificate of the city whose key the gateway does not hold. */
  readonly notHeld: Party;
}

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

async function party(dir: string, pki: Pki, email: string, keySpec: KeySpec, usage: MailboxUsage, validity: { notBefore: Date; notAfter: Date } = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') }): Promise<Party> {
  const issued = await issueMailbox(pki.ca, { subject: [['C', 'DE'], ['O', 'Test'], ['CN', email]], email, keySpec, usage, ...validity });
  const name = `${email.split('@')[0] ?? 'x'}-${keySpec}-${usage}-${validity.notAfter.getUTCFullYear()}-${new X509Certificate(pki.root.certificate).fingerprint256.slice(0, 8).replace(/:/g, '')}`;
  return { email, issued, files: writeSigner(dir, name, issued, [pki.ca.certificate, pki.root.certificate]) };
}

/** An RSA-1024 mailbox certificate under the trusted CA, made by openssl (generate.ts refuses weak keys). */
function weakParty(dir: string, pki: Pki, email: string): Party {
  const key = path.join(dir, 'weak.key');
  const csr = path.join(dir, 'weak.csr');
  const cert = path.join(dir, 'weak.pem');
  const caCert = path.join(dir, 'weak-ca.pem');
  const caKey = path.join(dir, 'weak-ca.key');
  const ext = path.join(dir, 'weak.ext');
  const chain = path.join(dir, 'weak-chain.pem');
  writeFileSync(caCert, toPem('CERTIFICATE', pki.ca.certificate));
  writeFileSync(caKey, pki.ca.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(chain, toPem('CERTIFICATE', pki.ca.certificate) + toPem('CERTIFICATE', pki.root.certificate));
  writeFileSync(ext, `keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:${email}\nauthorityKeyIdentifier=keyid\n`);
  execFileSync('openssl', ['genrsa', '-out', key, '1024'], { stdio: 'pipe' });
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${email}`, '-out', csr], { stdio: 'pipe' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', '4242', '-days', '1500', '-sha256', '-extfile', ext, '-out', cert], { stdio: 'pipe' });
  const der = Buffer.from(new X509Certificate(readFileSync(cert)).raw);
  return { email, issued: { certificate: der, privateKey: createPrivateKey(readFileSync(key)) }, files: { cert, key, chain } };
}

let cached: Promise<InboundFixtures> | undefined;

/** Created once per test file (each jest file has its own module instance). */
export function inboundFixtures(): Promise<InboundFixtures> {
  cached ??= (async () => {
    const dir = tempDir('siegel-inbound-');
    const [trusted, untrusted] = await Promise.all([createPki('Inbound Test Root'), createPki('Unconfigured Root')]);
    const rootPem = path.join(dir, 'root.pem');
    writeFileSync(rootPem, toPem('CERTIFICATE', trusted.root.certificate));
    const [rsa2048, rsa3072, p256, expired, stranger, spoof, rsa, ec, notHeld] = await Promise.all([
      party(dir, trusted, PARTNER, 'rsa2048', 'both'),
      party(dir, trusted, 'rsa3072@partner.example', 'rsa3072', 'both'),
      party(dir, trusted, 'ec@partner.example', 'p256', 'both'),
      party(dir, trusted, 'old@partner.example', 'rsa2048', 'both', { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2025-06-30T00:00:00Z') }),
      party(dir, untrusted, 'fremd@other.example', 'rsa2048', 'both'),
      party(dir, untrusted, PARTNER, 'rsa2048', 'both'),
      party(dir, trusted, 'poststelle@stadt.example', 'rsa2048', 'encrypt'),
      party(dir, trusted, 'bauamt@stadt.example', 'p256', 'encrypt'),
      party(dir, trusted, 'kaemmerei@stadt.example', 'rsa2048', 'encrypt'),
    ]);
    const rsa1024 = weakParty(dir, trusted, 'weak@partner.example');
    return { dir, trusted, untrusted, rootPem, signers: { rsa2048, rsa3072, p256, rsa1024, expired, stranger, spoof }, mailboxes: { rsa, ec }, notHeld };
  })();
  return cached;
}

export async function removeInboundFixtures(): Promise<void> {
  if (cached) rmSync((await cached).dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- gateway

export interface Gateway {
  readonly dir: string;
  readonly configFile: string;
  readonly config: Config;
  /** `siegel inbound` in-process at the fixed clock: the message as delivered, exit code, stderr. */
  inbound(raw: Buffer): Promise<{ status: number; out: Buffer; stderr: string }>;
  harvested(): Promise<HarvestedRecord[]>;
  remove(): void;
}

class Capture extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }
}

/**
 * A gateway directory: siegel.yaml (trusted root only, authserv-id
 * siegel.stadt.example, internalDomains stadt.example, plus `configTail`),
 * master key, and the RSA and EC mailboxes enrolled with their keys.
 */
export async function createGateway(f: InboundFixtures, configTail = ''): Promise<Gateway> {
  const dir = tempDir('siegel-inbound-gw-');
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'trust', 'root.pem'), toPem('CERTIFICATE', f.trusted.root.certificate));
  writeFileSync(path.join(dir, 'master.key'), 'inbound-test-master-key-0123456789abcdef\n', { mode: 0o600 });
  const configFile = path.join(dir, 'siegel.yaml');
  writeFileSync(configFile, ['dataDir: data', 'trustAnchors: trust', 'masterKeyFile: master.key', `authservId: ${AUTHSERV_ID}`, 'internalDomains: [stadt.example]', configTail].join('\n') + '\n');
  const config = loadConfig({ file: configFile, env: {} });
  const keystore = openKeystore(config, {}, () => AT);
  try {
    for (const mailbox of [f.mailboxes.rsa, f.mailboxes.ec]) {
      await keystore.importIdentity({ mailbox: mailbox.email, privateKey: mailbox.issued.privateKey, certificate: mailbox.issued.certificate, chain: [f.trusted.ca.certificate] }, AT);
    }
  } finally {
    await keystore.close();
  }
  return {
    dir,
    configFile,
    config,
    async inbound(raw) {
      const stdin = new PassThrough();
      stdin.end(raw);
      const stdout = new Capture();
      const stderr = new Capture();
      const status = await inboundFilter({ config, stdin, stdout, stderr, env: {}, logger: silentLogger(), now: () => AT }, {});
      return { status, out: Buffer.concat(stdout.chunks), stderr: Buffer.concat(stderr.chunks).toString('utf8') };
    },
    async harvested() {
      const store = SqliteHarvestedStore.open(config.dataDir, () => undefined);
      try {
        return await store.list();
      } finally {
        await store.close();
      }
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- peers

let counter = 0;
function scratch(f: InboundFixtures, name: string, data?: Buffer): string {
  const p = path.join(f.dir, `${counter++}-${name}`);
  if (data) writeFileSync(p, data);
  return p;
}

export function runOk(command: string, args: readonly string[], input?: Buffer): Buffer {
  const result = spawnSync(command, args, { input, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr.toString('utf8')}`);
  return result.stdout;
}

export interface Addressing {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
}

export function addressing(from: string, subject = 'Bescheid', to = 'poststelle@stadt.example'): Addressing {
  return { from, to, subject };
}

/** A MIME entity (CRLF) as a client puts it under a signature: umlauts in quoted-printable. */
export function bodyEntity(text = `Sehr geehrte Damen und Herren,\r\n\r\nanbei der Bescheid vom ${Math.random().toString(36).slice(2, 8)}.\r\nMit freundlichen Gr=C3=BC=C3=9Fen\r\n`): Buffer {
  return Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${text}`, 'latin1');
}

/**
 * `openssl cms -sign` (or legacy `openssl smime -sign`) of a MIME entity
 * as a whole message with From/To/Subject on top, CRLF line ends.
 */
export function opensslSigned(
  f: InboundFixtures,
  signer: Party,
  entity: Buffer,
  options: { readonly to?: Addressing; readonly opaque?: boolean; readonly legacy?: boolean; readonly md?: string } = {},
): Buffer {
  const input = scratch(f, 'entity', entity);
  const top = options.to ? ['-from', options.to.from, '-to', options.to.to, '-subject', options.to.subject] : [];
  return runOk('openssl', [
    options.legacy ? 'smime' : 'cms',
    '-sign',
    '-binary',
    '-crlfeol',
    '-in',
    input,
    '-signer',
    signer.files.cert,
    '-inkey',
    signer.files.key,
    '-certfile',
    signer.files.chain,
    ...(options.opaque ? ['-nodetach'] : []),
    ...(options.md ? ['-md', options.md] : []),
    ...top,
  ]);
}

export type EncryptionKind = 'oaep' | 'pkcs1' | 'ecdh';
export type ContentKind = 'cbc' | 'gcm';

/** `openssl cms -encrypt` (or legacy `openssl smime -encrypt`) of a MIME entity as a whole message. */
export function opensslEncrypted(f: InboundFixtures, recipient: Party, entity: Buffer, to: Addressing, options: { readonly oaep?: boolean; readonly gcm?: boolean; readonly legacy?: boolean } = {}): Buffer {
  const input = scratch(f, 'plain', entity);
  const cipher = options.gcm ? '-aes-256-gcm' : '-aes-256-cbc';
  const who = options.oaep ? ['-recip', recipient.files.cert, '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256'] : [recipient.files.cert];
  return runOk('openssl', [options.legacy ? 'smime' : 'cms', '-encrypt', '-binary', '-crlfeol', '-in', input, cipher, '-from', to.from, '-to', to.to, '-subject', to.subject, ...who]);
}

function base64Lines(der: Buffer): string {
  return (der.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n') + '\r\n';
}

function headerLines(to: Addressing, extra: readonly string[] = []): string {
  return [`From: ${to.from}`, `To: ${to.to}`, `Subject: ${to.subject}`, `Message-ID: <${Math.random().toString(36).slice(2)}@partner.example>`, 'MIME-Version: 1.0', ...extra].join('\r\n') + '\r\n';
}

/** A multipart/signed message around a detached CMS signature made by a peer, as its mail client frames it. */
export function multipartSigned(to: Addressing, entity: Buffer, signature: Buffer, micalg = 'sha-256'): Buffer {
  const boundary = `----peer-${Math.random().toString(16).slice(2)}`;
  return Buffer.concat([
    Buffer.from(headerLines(to, [`Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=${micalg}; boundary="${boundary}"`]) + `\r\nThis is an S/MIME signed message\r\n\r\n--${boundary}\r\n`, 'latin1'),
    entity,
    Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7s"\r\n\r\n${base64Lines(signature)}\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
}

/** An application/pkcs7-mime message around CMS DER made by a peer. */
export function pkcs7Mime(to: Addressing, der: Buffer, smimeType: 'signed-data' | 'enveloped-data' | 'authEnveloped-data'): Buffer {
  return Buffer.from(
    headerLines(to, [`Content-Type: application/pkcs7-mime; smime-type=${smimeType}; name="smime.p7m"`, 'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="smime.p7m"']) + '\r\n' + base64Lines(der),
    'latin1',
  );
}

export type SignPeer = 'gpgsm' | 'nss' | 'python';

/** CMS SignedData DER by gpgsm (detached only), NSS cmsutil or Python cryptography. */
export function peerSignature(f: InboundFixtures, peer: SignPeer, signer: Party, entity: Buffer, detached: boolean): Buffer {
  const dir = scratch(f, `${peer}-home`);
  mkdirSync(dir);
  switch (peer) {
    case 'gpgsm':
      if (!detached) throw new Error('gpgsm signs detached here');
      return gpgsmSignDetached(dir, signer.files, entity);
    case 'nss':
      return nssSign(dir, signer.files, path.join(f.dir, 'root.pem'), entity, detached);
    case 'python':
      return pythonSign(dir, signer.files, entity, detached);
  }
}

/** Python cryptography's PKCS7EnvelopeBuilder (RSA PKCS #1 v1.5, AES-256-CBC). */
export function pythonEncrypt(f: InboundFixtures, recipient: Party, content: Buffer): Buffer {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'envelope', 'envelope-peer.py');
  return runOk('python3', [script, 'encrypt', recipient.files.cert, 'aes256'], content);
}

/** gpgsm --encrypt (RSA PKCS #1 v1.5, AES-CBC) with a private homedir. */
export function gpgsmEncrypt(f: InboundFixtures, recipient: Party, content: Buffer): Buffer {
  const home = scratch(f, 'gpgsm-enc');
  mkdirSync(home, { mode: 0o700 });
  const base = ['--homedir', home, '--batch', '--disable-crl-checks', '--disable-dirmngr'];
  try {
    runOk('gpgsm', [...base, '--import', recipient.files.chain, recipient.files.cert]);
    writeFileSync(path.join(home, 'trustlist.txt'), `${new X509Certificate(f.trusted.root.certificate).fingerprint} S relax\n`);
    const input = scratch(f, 'gpgsm-plain', content);
    const out = scratch(f, 'gpgsm.p7m');
    runOk('gpgsm', [...base, '--disable-policy-checks', '--encrypt', '-r', recipient.email, '-o', out, input]);
    return readFileSync(out);
  } finally {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
  }
}

/** NSS cmsutil -E (what Thunderbird writes): RSA PKCS #1 v1.5, AES-CBC. */
export function nssEncrypt(f: InboundFixtures, recipient: Party, content: Buffer): Buffer {
  const db = scratch(f, 'nss-enc');
  mkdirSync(db);
  runOk('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  runOk('certutil', ['-A', '-d', `sql:${db}`, '-n', 'root', '-t', 'C,C,C', '-i', f.rootPem]);
  runOk('certutil', ['-A', '-d', `sql:${db}`, '-n', 'ca', '-t', ',,', '-a', '-i', recipient.files.chain]);
  runOk('certutil', ['-A', '-d', `sql:${db}`, '-n', 'recipient', '-t', ',,', '-a', '-i', recipient.files.cert]);
  const input = scratch(f, 'nss-plain', content);
  const out = scratch(f, 'nss.p7m');
  runOk('cmsutil', ['-E', '-d', `sql:${db}`, '-r', recipient.email, '-i', input, '-o', out]);
  return readFileSync(out);
}

// ---------------------------------------------------------------- reading what was delivered

export interface SmimeResultSeen {
  readonly result: string;
  readonly reason?: string;
  readonly properties: Readonly<Record<string, string>>;
}

export interface AuthResultsSeen {
  readonly authservId: string;
  readonly results: readonly SmimeResultSeen[];
}

/** The top-level header fields of a delivered message as [name, unfolded value]. */
export function headerFields(message: Buffer): Array<[string, string]> {
  const text = message.toString('latin1');
  const end = /\r?\n\r?\n/.exec(text);
  const header = end ? text.slice(0, end.index) : text;
  const fields: Array<[string, string]> = [];
  for (const line of header.split(/\r?\n/)) {
    const last = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && last) last[1] += ` ${line.trim()}`;
    else {
      const colon = line.indexOf(':');
      if (colon > 0) fields.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
  }
  return fields;
}

export function header(message: Buffer, name: string): string[] {
  return headerFields(message)
    .filter(([n]) => n.toLowerCase() === name.toLowerCase())
    .map(([, v]) => v);
}

function withoutComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted) {
      out += c;
      if (c === '\\') out += value[++i] ?? '';
      else if (c === '"') quoted = false;
    } else if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '(') depth++;
    else {
      if (c === '"') quoted = true;
      out += c;
    }
  }
  return out;
}

/** Parses an Authentication-Results value (RFC 8601) into its smime results. */
export function parseAuthenticationResults(value: string): AuthResultsSeen {
  const clean = withoutComments(value);
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i] as string;
    if (c === '"') quoted = !quoted;
    if (c === '\\' && quoted) {
      current += c + (clean[++i] ?? '');
      continue;
    }
    if (c === ';' && !quoted) {
      parts.push(current.trim());
      current = '';
    } else current += c;
  }
  parts.push(current.trim());
  const [authservId = '', ...resinfos] = parts;
  const results = resinfos.map((resinfo) => {
    const properties: Record<string, string> = {};
    for (const m of resinfo.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|[^\s]+)/g)) {
      const raw = m[2] as string;
      properties[m[1] as string] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    }
    const { smime = '', reason, ...rest } = properties;
    return { result: smime, ...(reason === undefined ? {} : { reason }), properties: rest };
  });
  return { authservId: authservId.split(/\s+/)[0] ?? '', results };
}

/** Our Authentication-Results fields of a delivered message (those with our authserv-id). */
export function ourVerdicts(message: Buffer): AuthResultsSeen[] {
  return header(message, 'Authentication-Results')
    .map(parseAuthenticationResults)
    .filter((a) => a.authservId === AUTHSERV_ID);
}

/** The one verdict of the message itself (the single smime result of our single field). */
export function verdictOf(message: Buffer): SmimeResultSeen {
  const ours = ourVerdicts(message);
  if (ours.length !== 1) throw new Error(`expected one Authentication-Results of ours, got ${ours.length}:\n${message.toString('latin1').slice(0, 2000)}`);
  const last = (ours[0] as AuthResultsSeen).results;
  const result = last[last.length - 1];
  if (!result) throw new Error('no resinfo');
  return result;
}

/** `openssl cms -verify` (or `openssl smime -verify`) of a whole delivered message against the trusted root; stdout is the signed entity (no -binary: `cms -verify -binary` misreads CRLF multipart/signed). */
export function opensslVerify(f: InboundFixtures, message: Buffer, legacy = false): { ok: boolean; content: Buffer; stderr: string } {
  const input = scratch(f, 'delivered.eml', message);
  const result = spawnSync('openssl', [legacy ? 'smime' : 'cms', '-verify', '-CAfile', f.rootPem, '-in', input], { maxBuffer: 64 * 1024 * 1024 });
  return { ok: result.status === 0, content: result.stdout, stderr: result.stderr.toString('utf8') };
}

/** The body (bytes after the header) of a message or entity. */
export function bodyOf(message: Buffer): Buffer {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return message.subarray(crlf + 4);
  return lf === -1 ? Buffer.alloc(0) : message.subarray(lf + 2);
}
