import { randomBytes } from 'node:crypto';

/** A short random id that ties the log lines of one message together. */
export function randomQueueId(): string {
  return randomBytes(6).toString('hex').toUpperCase();
}
