/**
 * Every socket read of a message leaves a dead 64 KiB buffer (and
 * smtp-server a copy of it) behind once its bytes are collected. V8 frees
 * those only at its next garbage collection, which a fast sender's large
 * message does not trigger until some 60 MB of them have piled up (V8's
 * external-memory limit): a 50 MB message peaked at 200 MB instead of 170.
 * A minor collection (a scavenge, about a millisecond: the young generation
 * is kept small with --max-semi-space-size=1) after every 8 MiB received,
 * counted over all connections, keeps that garbage small.
 *
 * Needs Node's --expose-gc, which bin/siegel.js, `npm start` and the Docker
 * image pass; without it (e.g. a gateway inside a test process) nothing
 * happens.
 */
const EVERY_BYTES = 8 * 1024 * 1024;

type MinorGc = (options: { type: 'minor' }) => void;

const gc = (globalThis as { gc?: MinorGc }).gc;
let sinceCollection = 0;

/** Called with the size of each chunk of message data received. */
export function noteBytesReceived(bytes: number): void {
  if (!gc) return;
  sinceCollection += bytes;
  if (sinceCollection < EVERY_BYTES) return;
  sinceCollection = 0;
  gc({ type: 'minor' });
}
