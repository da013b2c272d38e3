/**
 * Downloads a CA certificate named by an authorityInfoAccess caIssuers URL,
 * with the shared bounded HTTP client (http-fetch.ts). Plain http only
 * (RFC 5280 4.2.2.1: the objects are signed, so TLS adds nothing, and https
 * would need the very chain being built), no redirects (a redirect to
 * elsewhere is not what the CA named), a time limit and a size limit, since
 * the URL comes from a certificate and is not trusted.
 */
import type { CaIssuersFetcher } from './chain-completion.js';
import { FetchError, fetchBytes } from './http-fetch.js';

export interface CaIssuersFetchOptions {
  /** Default 10 s. */
  readonly timeoutMs?: number;
  /** Default 1 MiB. */
  readonly maxBytes?: number;
}

export function httpCaIssuersFetcher(options: CaIssuersFetchOptions = {}): CaIssuersFetcher {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  return async (url) => {
    if (!/^http:\/\//i.test(url)) throw new Error('only http URLs are fetched');
    try {
      return await fetchBytes(url, { timeout: timeoutMs, maxSize: maxBytes, followRedirects: false, accept: 'application/pkix-cert, application/pkcs7-mime, */*' });
    } catch (err) {
      if (!(err instanceof FetchError)) throw err;
      // Messages for the enrollment warning: what went wrong, in words an administrator acts on.
      if (err.kind === 'timeout') throw new Error(`no answer within ${timeoutMs / 1000} s`);
      if (err.kind === 'too-large') throw new Error(`the answer is larger than ${maxBytes} bytes`);
      // The URL is in the warning already: "HTTP 404", not "host answered HTTP 404".
      if (err.status) throw new Error(`HTTP ${err.status.code}${err.status.redirectNotFollowed ? ' (redirects are not followed)' : ''}`);
      throw new Error(err.message);
    }
  };
}
