/**
 * A real OpenLDAP server for the directory look-up tests: slapd from
 * Debian's packages with an mdb database in a temporary directory, on a free
 * port of 127.0.0.1, loaded with ldapadd as an authority's directory
 * service would be. slapd runs with the `stats` debug level on stderr, so
 * tests can count the searches it served (a cache hit must not reach it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../revocation/openssl-pki.js';

export const SUFFIX = 'o=Verwaltung,c=DE';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
const ROOT_PASSWORD = 'slapd-root-for-loading';
/** A subtree only bound readers may see (the bind-with-password test). */
export const PROTECTED_OU = `ou=Intern,${SUFFIX}`;
export const READER_DN = `cn=leser,${SUFFIX}`;
export const READER_PASSWORD = 'Leser-Kennwort-42';

export const SLAPD = '/usr/sbin/slapd';

export interface Slapd {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Search operations slapd logged since it started (all runs on this port). */
  searches(): number;
  /** slapd's stats log so far. */
  log(): string;
  /** Adds entries with ldapadd as the root DN. */
  add(ldif: string): void;
  /** Stops slapd (SIGTERM, waits for exit); start() brings it back on the same port with the same data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function slapdConf(dir: string): string {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile ${path.join(dir, 'slapd.pid')}
argsfile ${path.join(dir, 'slapd.args')}
modulepath /usr/lib/ldap
moduleload back_mdb

database mdb
maxsize 33554432
suffix "${SUFFIX}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PASSWORD}
directory ${path.join(dir, 'db')}

access to attrs=userPassword
  by anonymous auth
  by * none
access to dn.subtree="${PROTECTED_OU}"
  by users read
  by * none
access to *
  by * read
`;
}

export async function startSlapd(): Promise<Slapd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-slapd-'));
  mkdirSync(path.join(dir, 'db'));
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(conf, slapdConf(dir));
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let log = '';
  let exited: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    // -d stats: stay in the foreground and log every operation (SRCH lines) to stderr.
    const proc = spawn(SLAPD, ['-h', `${url}/`, '-f', conf, '-d', 'stats'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      log += chunk;
    });
    const deadline = Date.now() + 20_000;
    while (!(await canConnect(port))) {
      if (proc.exitCode !== null) throw new Error(`slapd exited with ${proc.exitCode}: ${log.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`slapd did not listen on ${url} within 20 s: ${log.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  const slapd: Slapd = {
    url,
    port,
    dir,
    searches: () => (log.match(/ SRCH base=/g) ?? []).length,
    log: () => log,
    add(ldif: string) {
      const result = spawnSync('ldapadd', ['-x', '-H', url, '-D', ROOT_DN, '-w', ROOT_PASSWORD], { input: ldif, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`ldapadd failed (${String(result.status)}): ${result.stderr}${result.stdout}`);
    },
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  slapd.add(`dn: ${SUFFIX}
objectClass: organization
o: Verwaltung

dn: ${READER_DN}
objectClass: person
cn: leser
sn: Leser
userPassword: ${READER_PASSWORD}

dn: ${PROTECTED_OU}
objectClass: organizationalUnit
ou: Intern
`);
  return slapd;
}

export interface PersonEntry {
  /** RDN value (cn) and the parent, e.g. "ou=Intern,o=Verwaltung,c=DE"; default the suffix. */
  readonly cn: string;
  readonly parent?: string;
  readonly mail: string;
  /** DER certificates as userCertificate;binary, written to files and loaded with `:< file://`. */
  readonly certificates: readonly Buffer[];
  /** DER CA certificates as cACertificate;binary (objectClass pkiCA). */
  readonly caCertificates?: readonly Buffer[];
}

let fileCounter = 0;

/** LDIF for a person holding certificates; the DER goes through files, as an administrator would load them. */
export function personLdif(dir: string, entry: PersonEntry): string {
  const fileFor = (der: Buffer): string => {
    const file = path.join(dir, `value-${++fileCounter}.der`);
    writeFileSync(file, der);
    return `file://${file}`;
  };
  const lines = [
    `dn: cn=${entry.cn},${entry.parent ?? SUFFIX}`,
    'objectClass: inetOrgPerson',
    ...(entry.caCertificates?.length ? ['objectClass: pkiCA'] : []),
    `cn: ${entry.cn}`,
    `sn: ${entry.cn}`,
    `mail: ${entry.mail}`,
    ...entry.certificates.map((der) => `userCertificate;binary:< ${fileFor(der)}`),
    ...(entry.caCertificates ?? []).map((der) => `cACertificate;binary:< ${fileFor(der)}`),
  ];
  return `${lines.join('\n')}\n`;
}
