/**
 * A gateway directory for the lifecycle tests (trust anchor, master key,
 * siegel.yaml) and `siegel ARGV` run in process at a fixed clock.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli.js';
import type { Issued } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { tempDir, type TestPki } from '../pki/test-pki.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

function collect(stream: PassThrough): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Runs `siegel ARGV` in process at `now`, with exactly `env` as environment. */
export async function siegel(argv: readonly string[], options: { now: Date; stdin?: Buffer | string; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  stdin.end(options.stdin ?? '');
  const code = await main(argv, { stdin, stdout, stderr, env: options.env ?? {}, now: () => options.now });
  stdout.end();
  stderr.end();
  return { code, stdout: await out, stderr: (await err).toString('utf8') };
}

export interface GatewayDir {
  readonly dir: string;
  readonly config: string;
  /** Writes PEM files for a leaf (cert, PKCS#8 key, chain = issuing CA) and returns their paths. */
  pem(name: string, leaf: Issued): { cert: string; key: string; chain: string };
}

/** A directory with trust/ (the PKI's root), master.key and siegel.yaml (`extra` YAML appended). */
export function gatewayDir(pki: TestPki, extra = ''): GatewayDir {
  const dir = tempDir('siegel-lifecycle-');
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'trust', 'root.pem'), toPem('CERTIFICATE', pki.root.certificate));
  writeFileSync(path.join(dir, 'master.key'), 'lifecycle-master-key-0123456789abcdef\n', { mode: 0o600 });
  const config = path.join(dir, 'siegel.yaml');
  writeFileSync(config, `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\ninternalDomains: [stadt.example]\nlog:\n  level: warn\n${extra}`);
  return {
    dir,
    config,
    pem(name, leaf) {
      const files = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`), chain: path.join(dir, `${name}-chain.pem`) };
      writeFileSync(files.cert, toPem('CERTIFICATE', leaf.certificate));
      writeFileSync(files.key, leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      writeFileSync(files.chain, toPem('CERTIFICATE', pki.ca.certificate));
      return files;
    },
  };
}

/** `openssl cms -decrypt` of a whole message with a recipient's PEM files; throws when it does not decrypt. */
export function opensslDecrypt(dir: string, message: Buffer, files: { cert: string; key: string }): Buffer {
  const input = path.join(dir, `encrypted-${Date.now()}-${Math.random().toString(16).slice(2)}.eml`);
  writeFileSync(input, message);
  return execFileSync('openssl', ['cms', '-decrypt', '-in', input, '-recip', files.cert, '-inkey', files.key], { maxBuffer: 16 * 1024 * 1024 });
}

/** Messages in a Maildir's new/, oldest name first. */
export function maildirMessages(root: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(path.join(root, 'new')).sort();
  } catch {
    return [];
  }
  return names.map((name) => readFileSync(path.join(root, 'new', name)));
}
