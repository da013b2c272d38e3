/**
 * CRLs by distribution point, kept in memory until their nextUpdate (RFC
 * 5280 5.1.2.5: a newer CRL is due then). A CRL is checked (signature,
 * issuer, dates) once when it arrives, not per certificate. Concurrent
 * checks of the same URL share one download; a failed download is
 * remembered for FAILURE_TTL_MS so an unreachable server does not cost the
 * full timeout for every message. Bounded in count: CRLs can be large.
 */
import { errorMessage } from '../../errors.js';
import { certificateKey } from '../memo.js';
import { BoundedCache } from '../memo.js';
import { crlProblem, downloadCrl, staleness, type CrlFetchOptions } from './crl-fetch.js';
import type { ParsedCrl } from './crl-parse.js';
import { FetchError } from '../http-fetch.js';

export const FAILURE_TTL_MS = 60_000;
const MAX_CRLS = 32;

export type CrlAnswer = { readonly ok: true; readonly crl: ParsedCrl } | { readonly ok: false; readonly why: string };

export interface CrlCacheOptions extends CrlFetchOptions {
  /** Maximum age of a CRL without nextUpdate, milliseconds. */
  readonly maxAge: number;
}

export class CrlCache {
  readonly #crls = new BoundedCache<ParsedCrl>(MAX_CRLS);
  readonly #failures = new BoundedCache<{ readonly why: string; readonly until: number }>(256);
  readonly #inflight = new Map<string, Promise<CrlAnswer>>();

  constructor(
    private readonly options: CrlCacheOptions,
    private readonly download: (url: string, options: CrlFetchOptions) => Promise<ParsedCrl> = downloadCrl,
  ) {}

  /** A checked, current CRL of `issuer` from `url`, or why there is none. Never throws. */
  async get(url: string, issuerDer: Buffer, at: Date): Promise<CrlAnswer> {
    const key = `${url}\n${certificateKey(issuerDer)}`;
    const cached = this.#crls.get(key);
    if (cached && staleness(cached, at, this.options.maxAge) === undefined) return { ok: true, crl: cached };
    const failure = this.#failures.get(key);
    if (failure && at.getTime() < failure.until) return { ok: false, why: failure.why };
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.load(url, issuerDer, at, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  private async load(url: string, issuerDer: Buffer, at: Date, key: string): Promise<CrlAnswer> {
    let answer: CrlAnswer;
    try {
      const crl = await this.download(url, this.options);
      const why = crlProblem(crl, issuerDer) ?? staleness(crl, at, this.options.maxAge);
      answer = why ? { ok: false, why: `${why} (${url})` } : { ok: true, crl };
    } catch (err) {
      const why = err instanceof FetchError && err.kind === 'too-large' ? `the CRL is too large: ${err.message}` : errorMessage(err);
      answer = { ok: false, why: `CRL ${url}: ${why}` };
    }
    if (answer.ok) this.#crls.set(key, answer.crl);
    else this.#failures.set(key, { why: answer.why, until: at.getTime() + FAILURE_TTL_MS });
    return answer;
  }
}
