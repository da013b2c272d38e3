/**
 * The real S/MIME peers as verifiers for end-to-end tests: OpenSSL, GnuPG's
 * gpgsm (KMail) and NSS cmsutil (Thunderbird). Each gets only the root as
 * trust anchor; the issuing CA must come from the message.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toPem } from '../../src/pki/pem.js';

export interface PeerResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly output: Buffer;
}

function run(command: string, args: readonly string[], input?: Buffer): PeerResult {
  const result = spawnSync(command, args, { input, timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8'), output: result.stdout };
}

export interface Peers {
  readonly dir: string;
  readonly rootPem: string;
  /** openssl cms -verify of a whole S/MIME message; output = the signed entity. */
  openssl(message: Buffer): PeerResult;
  /** gpgsm --verify of a detached signature over content. */
  gpgsm(signature: Buffer, content: Buffer): PeerResult;
  /** NSS cmsutil -D of a detached signature over content (-h 1 reports per-signer status). */
  nss(signature: Buffer, content: Buffer): PeerResult;
  close(): void;
}

export function createPeers(rootDer: Buffer): Peers {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-peers-'));
  const rootPem = path.join(dir, 'root.pem');
  writeFileSync(rootPem, toPem('CERTIFICATE', rootDer));
  const gnupg = path.join(dir, 'gnupg');
  const nssDb = path.join(dir, 'nss');
  const gpgsmArgs = ['--homedir', gnupg, '--batch', '--disable-crl-checks', '--disable-dirmngr', '--status-fd', '1'];
  let counter = 0;
  const file = (name: string, data: Buffer) => {
    const p = path.join(dir, `${counter++}-${name}`);
    writeFileSync(p, data);
    return p;
  };
  let gpgsmReady = false;
  let nssReady = false;
  return {
    dir,
    rootPem,
    openssl(message) {
      return run('openssl', ['cms', '-verify', '-CAfile', rootPem, '-purpose', 'smimesign', '-in', file('msg.eml', message)]);
    },
    gpgsm(signature, content) {
      if (!gpgsmReady) {
        run('mkdir', ['-p', gnupg]);
        chmodSync(gnupg, 0o700);
        run('gpgsm', [...gpgsmArgs, '--import', rootPem]);
        writeFileSync(path.join(gnupg, 'trustlist.txt'), `${new X509Certificate(rootDer).fingerprint} S\n`);
        gpgsmReady = true;
      }
      return run('gpgsm', [...gpgsmArgs, '--verify', file('sig.p7s', signature), file('content', content)]);
    },
    nss(signature, content) {
      if (!nssReady) {
        run('mkdir', ['-p', nssDb]);
        run('certutil', ['-N', '-d', `sql:${nssDb}`, '--empty-password']);
        run('certutil', ['-A', '-d', `sql:${nssDb}`, '-n', 'root', '-t', 'C,C,C', '-i', rootPem]);
        nssReady = true;
      }
      return run('cmsutil', ['-D', '-d', `sql:${nssDb}`, '-i', file('sig.p7s', signature), '-c', file('content', content), '-n', '-h', '1']);
    },
    close() {
      if (gpgsmReady) run('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
