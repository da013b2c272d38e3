import { randomUUID } from 'node:crypto';

/**
 * A short random id that ties the log lines of one message together: 12
 * upper-case hex digits. From randomUUID, which draws on a cached entropy
 * pool (a randomBytes call per message cost a system call each).
 */
export function randomQueueId(): string {
  return randomUUID().replace(/-/g, '').slice(-12).toUpperCase();
}
