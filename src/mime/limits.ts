/**
 * Structural limits for untrusted MIME: they bound the work and memory one
 * message can cost. Exceeding one is a permanent failure of the message
 * (MESSAGE_LIMITS_EXCEEDED), never a crash.
 */
import { SiegelError } from '../errors.js';

export interface MimeLimits {
  /** Deepest nesting allowed; the top level is depth 0, its children depth 1, embedded messages count as a level. */
  maxDepth: number;
  /** Most MIME entities (containers, leaves, embedded messages' entities) in one message. */
  maxParts: number;
  /** Largest header block of any one entity, in bytes including the empty line. */
  maxHeaderSize: number;
}

/** Counts entities across the whole message, embedded messages included. */
export class LimitGuard {
  private parts = 0;

  constructor(readonly limits: MimeLimits) {}

  /** Called once per entity, as soon as its header is known. */
  entity(depth: number, headerBytes: number): void {
    this.parts++;
    if (this.parts > this.limits.maxParts) {
      throw new SiegelError('MESSAGE_LIMITS_EXCEEDED', `more than ${this.limits.maxParts} MIME parts`);
    }
    if (depth > this.limits.maxDepth) {
      throw new SiegelError('MESSAGE_LIMITS_EXCEEDED', `MIME nesting deeper than ${this.limits.maxDepth}`);
    }
    if (headerBytes > this.limits.maxHeaderSize) {
      throw new SiegelError('MESSAGE_LIMITS_EXCEEDED', `header block larger than ${this.limits.maxHeaderSize} bytes`);
    }
  }
}

/** Maps an error from the splitter: its own size limits (EMAXLEN) are ours too. */
export function splitterError(err: unknown): unknown {
  if (err instanceof SiegelError) return err;
  if (err instanceof Error && (err as Error & { code?: unknown }).code === 'EMAXLEN') {
    return new SiegelError('MESSAGE_LIMITS_EXCEEDED', err.message, { cause: err });
  }
  return new SiegelError('MESSAGE_MALFORMED', 'MIME structure could not be split', { cause: err });
}
