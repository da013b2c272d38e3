/**
 * Downloads a CA certificate named by an authorityInfoAccess caIssuers URL.
 * Plain http only (RFC 5280 4.2.2.1: the objects are signed, so TLS adds
 * nothing, and https would need the very chain being built), no redirects
 * (a redirect to elsewhere is not what the CA named), a time limit and a
 * size limit, since the URL comes from a certificate and is not trusted.
 */
import { errorMessage } from '../errors.js';
import type { CaIssuersFetcher } from './chain-completion.js';

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
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetch(url, { redirect: 'manual', signal, headers: { accept: 'application/pkix-cert, application/pkcs7-mime, */*' } });
    } catch (err) {
      throw new Error(signal.aborted ? `no answer within ${timeoutMs / 1000} s` : errorMessage((err as Error).cause ?? err));
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}${response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : ''}`);
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new Error(`the answer is larger than ${maxBytes} bytes`);
    }
    return readLimited(response, maxBytes, signal, timeoutMs);
  };
}

async function readLimited(response: Response, maxBytes: number, signal: AbortSignal, timeoutMs: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new Error(`the answer is larger than ${maxBytes} bytes`);
      chunks.push(value);
    }
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    if (signal.aborted) throw new Error(`no complete answer within ${timeoutMs / 1000} s`);
    throw err;
  }
  return Buffer.concat(chunks);
}
