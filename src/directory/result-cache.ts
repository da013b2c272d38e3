/**
 * Directory answers per address for a while: the encrypt stage and the
 * RCPT-time grouping ask for the same recipient within seconds, and a
 * partner writes to the same people all day. Bounded: the oldest entries
 * go first once MAX_ENTRIES addresses are held.
 */
import type { EncryptionCertificate } from '../keystore/harvest.js';

export const MAX_ENTRIES = 10_000;

interface Held {
  readonly certificate: EncryptionCertificate | undefined;
  readonly expires: number;
}

export class DirectoryResultCache {
  private readonly held = new Map<string, Held>();

  constructor(private readonly maxEntries = MAX_ENTRIES) {}

  /** `{ certificate }` on a hit (undefined: known to have none), undefined on a miss. */
  get(address: string, now: Date): { readonly certificate: EncryptionCertificate | undefined } | undefined {
    const held = this.held.get(address);
    if (!held) return undefined;
    if (held.expires <= now.getTime()) {
      this.held.delete(address);
      return undefined;
    }
    return { certificate: held.certificate };
  }

  set(address: string, certificate: EncryptionCertificate | undefined, now: Date, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.held.delete(address);
    while (this.held.size >= this.maxEntries) {
      const oldest = this.held.keys().next().value;
      if (oldest === undefined) break;
      this.held.delete(oldest);
    }
    // A certificate is never held past its own expiry.
    const expires = Math.min(now.getTime() + ttlMs, certificate ? certificate.notAfter.getTime() : Number.POSITIVE_INFINITY);
    this.held.set(address, { certificate, expires });
  }

  clear(): void {
    this.held.clear();
  }
}
