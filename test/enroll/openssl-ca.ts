/**
 * A two-level CA run by the openssl command (`openssl ca`), as a
 * registration authority would run it: root -> issuing CA -> mailbox
 * certificates issued from PKCS#10 requests, with the requested extensions
 * copied (copy_extensions = copy) and the CA's own ones added. Fixed dates
 * (rule 5): everything is valid from 2025 on; tests run at AT (2027).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const CA_START = '20250101000000Z';
export const CA_END = '20400101000000Z';
export const LEAF_START = '20260101000000Z';
export const LEAF_END = '20290101000000Z';

export interface OpensslCa {
  readonly dir: string;
  /** PEM files. */
  readonly rootPem: string;
  readonly issuingPem: string;
  /** DER of the issuing CA certificate (what a caIssuers URL serves). */
  readonly issuingDer: Buffer;
  /**
   * Issues a certificate for the request in `csrFile` and returns the PEM file.
   * `aiaUrl` adds authorityInfoAccess caIssuers; `issuer` 'root' signs with the root instead.
   */
  issue(csrFile: string, name: string, options?: { aiaUrl?: string; issuer?: 'root' | 'issuing' }): string;
}

function openssl(args: readonly string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function caConfig(dir: string, name: string): string {
  const home = path.join(dir, name);
  mkdirSync(path.join(home, 'new'), { recursive: true });
  writeFileSync(path.join(home, 'index.txt'), '');
  writeFileSync(path.join(home, 'serial'), name === 'root' ? '1000\n' : '2000\n');
  const file = path.join(dir, `${name}.cnf`);
  writeFileSync(
    file,
    `[ ca ]
default_ca = this_ca

[ this_ca ]
dir = ${home}
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
certificate = ${path.join(dir, `${name}.pem`)}
private_key = ${path.join(dir, `${name}.key`)}
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = copy
preserve = yes
email_in_dn = no

[ policy_any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused

[ root_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ issuing_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ mailbox_ext ]
basicConstraints = critical, CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`,
  );
  return file;
}

export function createOpensslCa(dir: string): OpensslCa {
  const rootCnf = caConfig(dir, 'root');
  const issuingCnf = caConfig(dir, 'issuing');
  // Root: self-signed through `openssl ca -selfsign`, which (unlike req -x509 in 3.0) takes fixed dates.
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'root.key'], dir);
  openssl(['req', '-new', '-key', 'root.key', '-subj', '/C=DE/O=Freistaat OpenSSL/CN=OpenSSL Test Root', '-out', 'root.csr', '-config', rootCnf], dir);
  openssl(['ca', '-batch', '-notext', '-selfsign', '-config', rootCnf, '-keyfile', 'root.key', '-in', 'root.csr', '-out', 'root.pem', '-extensions', 'root_ext', '-startdate', CA_START, '-enddate', CA_END], dir);
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'issuing.key'], dir);
  openssl(['req', '-new', '-key', 'issuing.key', '-subj', '/C=DE/O=Freistaat OpenSSL/CN=OpenSSL Issuing CA', '-out', 'issuing.csr', '-config', issuingCnf], dir);
  openssl(['ca', '-batch', '-notext', '-config', rootCnf, '-in', 'issuing.csr', '-out', 'issuing.pem', '-extensions', 'issuing_ext', '-startdate', CA_START, '-enddate', CA_END], dir);
  const issuingPem = path.join(dir, 'issuing.pem');
  const issuingDer = Buffer.from(execFileSync('openssl', ['x509', '-in', issuingPem, '-outform', 'DER']));
  let extCount = 0;
  return {
    dir,
    rootPem: path.join(dir, 'root.pem'),
    issuingPem,
    issuingDer,
    issue(csrFile, name, options = {}) {
      const cnf = options.issuer === 'root' ? rootCnf : issuingCnf;
      const out = path.join(dir, `${name}.pem`);
      const args = ['ca', '-batch', '-notext', '-config', cnf, '-in', csrFile, '-out', out, '-startdate', LEAF_START, '-enddate', LEAF_END];
      if (options.aiaUrl) {
        const extfile = path.join(dir, `ext-${++extCount}.cnf`);
        writeFileSync(
          extfile,
          `[ mailbox_aia ]\nbasicConstraints = critical, CA:FALSE\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\nauthorityInfoAccess = caIssuers;URI:${options.aiaUrl}\n`,
        );
        args.push('-extfile', extfile, '-extensions', 'mailbox_aia');
      } else {
        args.push('-extensions', 'mailbox_ext');
      }
      openssl(args, dir);
      return out;
    },
  };
}

export function pemToDer(file: string, out: string): string {
  execFileSync('openssl', ['x509', '-in', file, '-outform', 'DER', '-out', out], { stdio: 'pipe' });
  return out;
}

/** A PKCS#7 certs-only bundle as CA portals deliver it (`openssl crl2pkcs7 -nocrl`). */
export function certsOnlyBundle(files: readonly string[], out: string, form: 'DER' | 'PEM'): string {
  execFileSync('openssl', ['crl2pkcs7', '-nocrl', ...files.flatMap((f) => ['-certfile', f]), '-outform', form, '-out', out], { stdio: 'pipe' });
  return out;
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}
