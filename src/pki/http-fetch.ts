/**
 * A small HTTP client for PKI objects named by certificates: OCSP and CRLs
 * (RFC 5280 section 4.2.1.13, RFC 6960 appendix A) and issuing CA
 * certificates (caIssuers). Plain http; https accepted too. Bounded: one
 * deadline for the whole exchange (connect, redirects, body) and a byte
 * limit checked against Content-Length and again while the body streams,
 * so a hostile or broken server can cost neither time nor memory.
 * Redirects are followed (at most MAX_REDIRECTS, to http and https only)
 * unless the caller refuses them.
 */
import http from 'node:http';
import https from 'node:https';

const MAX_REDIRECTS = 3;

export class FetchError extends Error {
  constructor(
    message: string,
    /** 'too-large' lets callers say "CRL too large" rather than "unreachable". */
    readonly kind: 'network' | 'timeout' | 'status' | 'too-large' | 'unsupported-url' = 'network',
    /** For kind 'status': the HTTP status, and whether it was a redirect that was not followed. */
    readonly status?: { readonly code: number; readonly redirectNotFollowed?: boolean },
  ) {
    super(message);
  }
}

export interface FetchOptions {
  /** Milliseconds for the whole exchange. */
  readonly timeout: number;
  /** Largest body accepted, bytes. */
  readonly maxSize: number;
  /** POST this body (OCSP); GET otherwise. */
  readonly body?: Buffer;
  readonly contentType?: string;
  readonly accept?: string;
  /** false: a redirect is an error (the caller wants exactly the object the certificate named). */
  readonly followRedirects?: boolean;
  readonly userAgent?: string;
}

export async function fetchBytes(url: string, options: FetchOptions): Promise<Buffer> {
  const deadline = Date.now() + options.timeout;
  let target = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const answer = await exchange(target, options, deadline);
    if (answer.kind === 'body') return answer.body;
    if (options.followRedirects === false) throw new FetchError(`${new URL(target).host} answered HTTP ${answer.status} (redirects are not followed)`, 'status', { code: answer.status, redirectNotFollowed: true });
    target = answer.location;
  }
  throw new FetchError(`more than ${MAX_REDIRECTS} redirects from ${url}`, 'status');
}

type Answer = { readonly kind: 'body'; readonly body: Buffer } | { readonly kind: 'redirect'; readonly location: string; readonly status: number };

function exchange(url: string, options: FetchOptions, deadline: number): Promise<Answer> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new FetchError(`not a URL: ${url}`, 'unsupported-url'));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return Promise.reject(new FetchError(`only http and https URLs are fetched, not ${parsed.protocol}`, 'unsupported-url'));
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new FetchError(`no answer from ${parsed.host} within the timeout`, 'timeout'));
  const client = parsed.protocol === 'https:' ? https : http;
  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    const finish = (err: FetchError | undefined, answer?: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        request.destroy();
        reject(err);
      } else resolve(answer as Answer);
    };
    const headers: Record<string, string | number> = { 'user-agent': options.userAgent ?? 'Siegel', ...(options.accept ? { accept: options.accept } : {}) };
    if (options.body) {
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
      headers['content-length'] = options.body.length;
    }
    const request = client.request(parsed, { method: options.body ? 'POST' : 'GET', headers, agent: false }, (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        // The Location comes from a server named in a partner's certificate: a bad one is that server's error, never a throw here.
        let location: string;
        try {
          location = new URL(response.headers.location, parsed).toString();
        } catch {
          finish(new FetchError(`${parsed.host} redirected to an invalid URL`, 'status'));
          return;
        }
        finish(undefined, { kind: 'redirect', location, status });
        return;
      }
      if (status !== 200) {
        response.resume();
        finish(new FetchError(`${parsed.host} answered HTTP ${status}`, 'status', { code: status }));
        return;
      }
      const declared = Number(response.headers['content-length'] ?? NaN);
      if (declared > options.maxSize) {
        finish(new FetchError(`${parsed.host} announces ${declared} bytes, more than the limit of ${options.maxSize}`, 'too-large'));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxSize) finish(new FetchError(`the answer from ${parsed.host} exceeds the limit of ${options.maxSize} bytes`, 'too-large'));
        else chunks.push(chunk);
      });
      response.on('end', () => finish(undefined, { kind: 'body', body: Buffer.concat(chunks, size) }));
      response.on('error', (err) => finish(new FetchError(`${parsed.host}: ${err.message}`)));
    });
    const timer = setTimeout(() => finish(new FetchError(`no answer from ${parsed.host} within the timeout`, 'timeout')), remaining);
    request.on('error', (err) => finish(new FetchError(`${parsed.host} cannot be reached: ${err.message}`)));
    request.end(options.body);
  });
}
