/**
 * Memoisation by certificate content. A gateway signs thousands of messages
 * with a handful of identities; parsing the same certificates (and checking
 * the same key against them) for every message would cost more than the
 * signature itself. Bounded, so unusual workloads cannot grow it without end.
 */
import { createHash } from 'node:crypto';

const LIMIT = 1024;

/**
 * Per Buffer object: one message's certificates are looked up in several
 * memos, each would hash them again. Certificate bytes are never modified
 * in place anywhere (they are parsed out of messages or read from stores).
 */
const keysOfBuffers = new WeakMap<Buffer, string>();

export function certificateKey(der: Buffer): string {
  let key = keysOfBuffers.get(der);
  if (key === undefined) {
    key = createHash('sha256').update(der).digest('base64');
    keysOfBuffers.set(der, key);
  }
  return key;
}

/** Wraps `fn(der)` so each distinct certificate is computed once (an undefined result too: unreadable bytes are not parsed again). */
export function memoByCertificate<T>(fn: (der: Buffer) => T): (der: Buffer) => T {
  const cache = new BoundedCache<{ readonly value: T }>();
  return (der) => {
    const key = certificateKey(der);
    const hit = cache.get(key);
    if (hit) return hit.value;
    const value = fn(der);
    cache.set(key, { value });
    return value;
  };
}

/** A bounded map that forgets its oldest entries first; for results keyed by certificate content. */
export class BoundedCache<V> {
  readonly #entries = new Map<string, V>();

  constructor(private readonly limit: number = LIMIT) {}

  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.#entries.size >= this.limit && !this.#entries.has(key)) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, value);
  }
}
