/** Real-peer fixtures for the S/MIME detection tests: an OpenSSL-made key and certificate, and openssl/python runners. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const LIMITS = { maxDepth: 20, maxSize: 10 * 1024 * 1024 };

export interface Peer {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
}

/** A self-signed RSA mailbox certificate for alice@example.org, made by the openssl command. */
export function createPeer(): Peer {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-detect-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '3650',
    '-subj', '/CN=Alice/emailAddress=alice@example.org', '-addext', 'subjectAltName=email:alice@example.org',
  ]);
  return { dir, cert, key };
}

export function run(cmd: string, args: readonly string[], input?: Buffer): { status: number; stdout: Buffer; stderr: string } {
  const r = spawnSync(cmd, args, { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

let counter = 0;
export function writeTemp(peer: Peer, name: string, data: Buffer | string): string {
  const file = path.join(peer.dir, `${counter++}-${name}`);
  writeFileSync(file, data);
  return file;
}

/** Runs `openssl <command> -out FILE ...args`, expects success, returns FILE's bytes. */
export function openssl(peer: Peer, [command, ...args]: readonly string[]): Buffer {
  const out = writeTemp(peer, 'out', '');
  const r = run('openssl', [command ?? 'version', '-out', out, ...args]);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  return readFileSync(out);
}

/** True iff `openssl cms -verify` accepts the detached DER signature over exactly `content`. */
export function opensslVerifiesDetached(peer: Peer, signature: Buffer, content: Buffer): boolean {
  const sig = writeTemp(peer, 'sig.der', signature);
  const entity = writeTemp(peer, 'entity', content);
  const r = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', sig, '-content', entity, '-binary', '-CAfile', peer.cert, '-purpose', 'any', '-out', '/dev/null']);
  return r.status === 0;
}

/** A plain text MIME entity with the given line ending. */
export function entity(eol: '\r\n' | '\n'): Buffer {
  return Buffer.from(['Content-Type: text/plain; charset=us-ascii', '', 'Hello Siegel,', 'this text is signed.', '-- ', 'Alice', ''].join(eol), 'latin1');
}

export function toLf(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

export function toCrlf(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** Prepends envelope-ish header fields (openssl writes only MIME-Version and Content-Type). */
export function withHeaders(mime: Buffer, eol: '\r\n' | '\n' = '\n'): Buffer {
  const head = ['From: alice@example.org', 'To: bob@example.org', 'Subject: detect test', ''].join(eol);
  return Buffer.concat([Buffer.from(head, 'latin1'), mime]);
}

/** Wraps a message as a message/rfc822 attachment of a multipart/mixed message (CRLF). */
export function forwardAsAttachment(inner: Buffer): { outer: Buffer; innerStart: number } {
  const head = Buffer.from(
    [
      'From: bob@example.org',
      'Subject: Fwd: signed',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer-b"',
      '',
      'preamble',
      '--outer-b',
      'Content-Type: text/plain',
      '',
      'see attachment',
      '--outer-b',
      'Content-Type: message/rfc822',
      'Content-Disposition: attachment',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
  const tail = Buffer.from('\r\n--outer-b--\r\n', 'latin1');
  return { outer: Buffer.concat([head, inner, tail]), innerStart: head.length };
}
