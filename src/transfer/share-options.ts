/**
 * Checks and normalises what a caller asks of share(): every edge (CLI,
 * web, offloading) gets the same rules, and nothing invalid reaches the
 * store. Violations are INVALID_REQUEST with a detail for the caller.
 */
import type { Config } from '../config/schema.js';
import { SiegelError } from '../errors.js';
import type { ByteRange } from './types.js';

const ADDRESS = /^[^\s@<>()[\]",;:\\]+@[^\s@<>()[\]",;:\\]+$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** Owners are compared lower-case (quota, revocation, listing). */
export function normalizeOwner(owner: string): string {
  const address = typeof owner === 'string' ? owner.trim().toLowerCase() : '';
  if (address.length > 320 || !ADDRESS.test(address)) throw new SiegelError('INVALID_REQUEST', `owner "${String(owner).slice(0, 100)}" is not a mail address`);
  return address;
}

/** The bare media type (parameters dropped), or application/octet-stream for anything odd. */
export function normalizeContentType(contentType: string | undefined): string {
  if (typeof contentType !== 'string') return DEFAULT_CONTENT_TYPE;
  const bare = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return MEDIA_TYPE.test(bare) ? bare : DEFAULT_CONTENT_TYPE;
}

/** The share's lifetime in ms: the default when absent, never beyond largeFiles.maxExpiry. */
export function shareLifetime(expiresIn: number | undefined, limits: Pick<Config['largeFiles'], 'defaultExpiry' | 'maxExpiry'>): number {
  const requested = expiresIn ?? limits.defaultExpiry;
  if (typeof requested !== 'number' || !Number.isFinite(requested) || requested <= 0) {
    throw new SiegelError('INVALID_REQUEST', 'the expiry must be a positive duration');
  }
  return Math.min(Math.round(requested), limits.maxExpiry);
}

export function validateMaxDownloads(maxDownloads: number | undefined): number | null {
  if (maxDownloads === undefined) return null;
  if (!Number.isSafeInteger(maxDownloads) || maxDownloads < 1) throw new SiegelError('INVALID_REQUEST', 'the download limit must be a whole number of at least 1');
  return maxDownloads;
}

export function validateExpectedSize(expectedSize: number | undefined, maxFileSize: number): void {
  if (expectedSize === undefined) return;
  if (!Number.isSafeInteger(expectedSize) || expectedSize < 0) throw new SiegelError('INVALID_REQUEST', 'the announced size must be a whole number of bytes');
  if (expectedSize > maxFileSize) throw new SiegelError('FILE_TOO_LARGE', `the file has ${expectedSize} bytes, the maximum is ${maxFileSize} bytes`);
}

/**
 * The range to send: the whole file when none was asked for; the end
 * clamped to the last byte (as HTTP does); undefined when the range cannot
 * be satisfied (starts beyond the end, inverted, not whole numbers, or any
 * range of an empty file).
 */
export function resolveRange(range: ByteRange | undefined, size: number): ByteRange | undefined {
  if (range === undefined) return { start: 0, end: size - 1 };
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || start >= size) return undefined;
  return { start, end: Math.min(end, size - 1) };
}
