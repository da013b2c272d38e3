/**
 * A PKI run by the openssl CLI for the revocation tests: `openssl ca` with
 * an index.txt (so `openssl ca -revoke`, `-gencrl` and `openssl ocsp
 * -index` see the same database), `openssl ocsp` responders on 127.0.0.1,
 * and a node HTTP server for CRLs, issuer certificates and stand-ins.
 * Real time: openssl dates its certificates, CRLs and OCSP responses with
 * the system clock, so the tests pass clocks relative to the moment the
 * set-up ran (NOW) and shift them to make answers stale.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { readPemBlocks } from '../../src/pki/pem.js';

export function openssl(cwd: string, args: readonly string[]): Buffer {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

export function derOfPem(file: string): Buffer {
  const block = readPemBlocks(readFileSync(file, 'latin1'))[0];
  if (!block) throw new Error(`no PEM block in ${file}`);
  return Buffer.from(block.der);
}

export interface IssuedFiles {
  readonly name: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly der: Buffer;
}

export interface Extensions {
  readonly email?: string;
  readonly ocsp?: string;
  readonly crl?: string;
  readonly caIssuers?: string;
  /** A delegated OCSP responder certificate (extendedKeyUsage OCSPSigning). */
  readonly ocspSigning?: boolean;
  /** An intermediate CA. */
  readonly ca?: boolean;
}

const CA_CONFIG = `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = index.txt
new_certs_dir = newcerts
certificate = ca.pem
private_key = ca.key
serial = serial
default_md = sha256
policy = policy_any
unique_subject = no
default_days = 365
default_crl_days = 1
[ policy_any ]
commonName = supplied
organizationName = optional
countryName = optional
`;

/** One CA directory; `openssl ca` keeps its index.txt. */
export class OpensslCa {
  readonly caPath: string;
  readonly keyPath: string;
  private count = 0;

  private constructor(
    readonly dir: string,
    readonly der: Buffer,
  ) {
    this.caPath = path.join(dir, 'ca.pem');
    this.keyPath = path.join(dir, 'ca.key');
  }

  /** A self-signed root. */
  static root(dir: string, name: string): OpensslCa {
    OpensslCa.prepare(dir);
    openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', `/C=DE/O=Revocation Test/CN=${name}`, '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    return new OpensslCa(dir, derOfPem(path.join(dir, 'ca.pem')));
  }

  /** An intermediate CA issued by `parent` (so revocable on the parent's CRL). */
  static intermediate(dir: string, parent: OpensslCa, name: string, extensions: Extensions): OpensslCa {
    OpensslCa.prepare(dir);
    const issued = parent.issue(name, { ...extensions, ca: true });
    writeFileSync(path.join(dir, 'ca.pem'), readFileSync(issued.certPath));
    writeFileSync(path.join(dir, 'ca.key'), readFileSync(issued.keyPath));
    return new OpensslCa(dir, issued.der);
  }

  private static prepare(dir: string): void {
    mkdirSync(path.join(dir, 'newcerts'), { recursive: true });
    writeFileSync(path.join(dir, 'index.txt'), '');
    writeFileSync(path.join(dir, 'serial'), '1000\n');
    writeFileSync(path.join(dir, 'ca.cnf'), CA_CONFIG);
  }

  /** A certificate recorded in index.txt (the responder answers good or revoked for it). */
  issue(name: string, extensions: Extensions): IssuedFiles {
    const { csr, files } = this.request(name, extensions);
    openssl(this.dir, ['ca', '-batch', '-config', 'ca.cnf', '-in', csr, '-out', files.certPath, '-extfile', files.extPath, '-extensions', 'ext', '-notext']);
    return { name, certPath: files.certPath, keyPath: files.keyPath, der: derOfPem(files.certPath) };
  }

  /** Signed by this CA's key but not in index.txt: the responder answers 'unknown'. */
  issueUnrecorded(name: string, extensions: Extensions): IssuedFiles {
    const { csr, files } = this.request(name, extensions);
    openssl(this.dir, ['x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x7e57ab1e', '-days', '365', '-sha256', '-out', files.certPath, '-extfile', files.extPath, '-extensions', 'ext']);
    return { name, certPath: files.certPath, keyPath: files.keyPath, der: derOfPem(files.certPath) };
  }

  revoke(issued: IssuedFiles, reason = 'keyCompromise'): void {
    openssl(this.dir, ['ca', '-config', 'ca.cnf', '-revoke', issued.certPath, '-crl_reason', reason]);
  }

  /** A CRL (DER) of the current index, valid for `hours`. */
  crl(hours = 24): Buffer {
    openssl(this.dir, ['ca', '-gencrl', '-config', 'ca.cnf', '-crlhours', String(hours), '-out', 'crl.pem']);
    return openssl(this.dir, ['crl', '-in', 'crl.pem', '-outform', 'DER']);
  }

  /** Adds `count` revoked lines to index.txt, as a CA with a long history has (serials from 0x10000000). */
  addRevokedHistory(count: number): void {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(`R\t301231000000Z\t250101000000Z,keyCompromise\t${(0x10000000 + i).toString(16).toUpperCase()}\tunknown\t/CN=old ${i}`);
    writeFileSync(path.join(this.dir, 'index.txt'), `${readFileSync(path.join(this.dir, 'index.txt'), 'latin1')}${lines.join('\n')}\n`);
  }

  private request(name: string, extensions: Extensions): { csr: string; files: { certPath: string; keyPath: string; extPath: string } } {
    const base = `${++this.count}-${name.replace(/\W+/g, '_')}`;
    const files = { certPath: path.join(this.dir, `${base}.pem`), keyPath: path.join(this.dir, `${base}.key`), extPath: path.join(this.dir, `${base}.ext`) };
    const csr = path.join(this.dir, `${base}.csr`);
    openssl(this.dir, ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.keyPath, '-out', csr, '-subj', `/O=Revocation Test/CN=${name}`]);
    writeFileSync(files.extPath, extensionSection(extensions));
    return { csr, files };
  }
}

function extensionSection(e: Extensions): string {
  const lines = ['[ ext ]'];
  if (e.ca) lines.push('basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,keyCertSign,cRLSign');
  else if (e.ocspSigning) lines.push('basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = OCSPSigning');
  else lines.push('basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,nonRepudiation,keyEncipherment', 'extendedKeyUsage = emailProtection');
  if (e.email) lines.push(`subjectAltName = email:${e.email}`);
  const aia = [...(e.ocsp ? [`OCSP;URI:${e.ocsp}`] : []), ...(e.caIssuers ? [`caIssuers;URI:${e.caIssuers}`] : [])];
  if (aia.length > 0) lines.push(`authorityInfoAccess = ${aia.join(',')}`);
  if (e.crl) lines.push(`crlDistributionPoints = URI:${e.crl}`);
  return `${lines.join('\n')}\n`;
}

/**
 * A port nothing listens on right now, for a responder that binds it later
 * (its URL goes into certificates first). Taken below Linux's ephemeral
 * range (32768-60999), from which listen(0) and outgoing connections of the
 * tests running in parallel draw: a port from that range could be handed to
 * one of them before openssl binds it ("Address already in use").
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    // On all interfaces, as openssl ocsp listens.
    if (await bindable(port)) return port;
  }
  throw new Error('no free port found below the ephemeral range');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

export interface Running {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * `openssl ocsp` as a responder for `ca`'s index (it listens on all
 * interfaces: openssl 3.0 has no option for the address; only 127.0.0.1
 * is asked). Resolves when it says it accepts connections.
 */
export async function startOcspResponder(ca: OpensslCa, signer: { certPath: string; keyPath: string }, options: { port?: number; ndays?: number } = {}): Promise<Running> {
  // A free port found here can be taken by another test before openssl binds it (tests run in parallel): try another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOcspResponderOn(options.port ?? (await freePort()), ca, signer, options);
    } catch (err) {
      const taken = err instanceof Error && err.message.includes('Address already in use');
      if (!taken || options.port !== undefined || attempt >= 5) throw err;
    }
  }
}

async function startOcspResponderOn(port: number, ca: OpensslCa, signer: { certPath: string; keyPath: string }, options: { ndays?: number }): Promise<Running> {
  const args = ['ocsp', '-index', 'index.txt', '-port', String(port), '-rsigner', signer.certPath, '-rkey', signer.keyPath, '-CA', 'ca.pem', ...(options.ndays !== undefined ? ['-ndays', String(options.ndays)] : [])];
  const child = spawn('openssl', args, { cwd: ca.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitForPort(port, child, () => stderr);
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () => stopChild(child),
  };
}

/**
 * Waits for the responder's "waiting for OCSP client connections" line. Not
 * by connecting: openssl ocsp serves one connection at a time and stalls
 * on a probe that sends no request.
 */
async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`openssl ocsp exited: ${log()}`);
    if (log().includes('waiting for OCSP client connections')) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`openssl ocsp did not listen on ${port}: ${log()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export type Route = (request: http.IncomingMessage, body: Buffer, response: http.ServerResponse) => void;

/** A node HTTP server on 127.0.0.1 with routes set by the tests (CRLs, issuer certificates, stand-in responders). */
export class TestHttpServer {
  readonly routes = new Map<string, Route>();
  readonly requests: string[] = [];
  private server?: http.Server;
  port = 0;

  async start(): Promise<void> {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const url = request.url ?? '/';
        this.requests.push(url);
        const route = this.routes.get(url);
        if (!route) {
          response.writeHead(404).end();
          return;
        }
        route(request, Buffer.concat(chunks), response);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server?.address() as net.AddressInfo).port;
  }

  url(pathname: string): string {
    return `http://127.0.0.1:${this.port}${pathname}`;
  }

  /** Serves fixed bytes (a CRL, a certificate). */
  serve(pathname: string, body: () => Buffer, contentType = 'application/pkix-crl'): void {
    this.routes.set(pathname, (_request, _body, response) => {
      const bytes = body();
      response.writeHead(200, { 'content-type': contentType, 'content-length': bytes.length }).end(bytes);
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
