/** `siegel ARGV` run in process (src/cli.ts main) with its own streams: what the tests of the commands share. */
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface RunOptions {
  readonly stdin?: Buffer | string;
  /** Exactly this environment (default empty). */
  readonly env?: NodeJS.ProcessEnv;
  /** The clock the command sees (default the real one). */
  readonly now?: Date;
}

export async function runSiegel(argv: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  stdin.end(options.stdin ?? '');
  const now = options.now;
  const code = await main(argv, { stdin, stdout, stderr, env: options.env ?? {}, ...(now ? { now: () => now } : {}) });
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
}
