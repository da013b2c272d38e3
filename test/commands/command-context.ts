/** A CommandContext with captured output, a fixed clock and a temporary data dir. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { CommandContext } from '../../src/commands/context.js';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../pki/test-pki.js';

export interface TestContext {
  readonly ctx: CommandContext;
  readonly dir: string;
  stdout(): string;
  stderr(): string;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

export function testContext(options: { now: Date; env?: NodeJS.ProcessEnv; withMasterKeyFile?: boolean; dir?: string }): TestContext {
  const dir = options.dir ?? tempDir('siegel-cmd-');
  const masterKeyFile = path.join(dir, 'master.key');
  if (options.withMasterKeyFile !== false) writeFileSync(masterKeyFile, 'master-key-for-command-tests-0123456789\n', { mode: 0o600 });
  const config = configSchema.parse({
    dataDir: path.join(dir, 'data'),
    trustAnchors: path.join(dir, 'anchors'),
    ...(options.withMasterKeyFile === false ? {} : { masterKeyFile }),
  });
  const stdout = new Capture();
  const stderr = new Capture();
  const ctx: CommandContext = {
    config,
    stdin: new PassThrough(),
    stdout,
    stderr,
    env: options.env ?? {},
    logger: silentLogger(),
    now: () => options.now,
  };
  return { ctx, dir, stdout: () => stdout.text, stderr: () => stderr.text };
}
