import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';

/** What every CLI command gets: the loaded config, output streams and the clock. */
export interface CommandContext {
  readonly config: Config;
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** Exit codes of the siegel command. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** Input rejected (bad certificate, bad file). */
  rejected: 3,
} as const;
