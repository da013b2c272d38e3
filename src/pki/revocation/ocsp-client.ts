/**
 * Asks an OCSP responder about one certificate (RFC 6960 appendix A.1:
 * POST application/ocsp-request) and checks the answer (ocsp-verify.ts).
 * OCSP responses are small: 64 KiB is far more than a response with a
 * responder certificate needs.
 */
import { errorMessage } from '../../errors.js';
import { fetchBytes } from '../http-fetch.js';
import { buildOcspRequest } from './ocsp-request.js';
import { checkOcspResponse, type OcspAnswer } from './ocsp-verify.js';

const MAX_RESPONSE_SIZE = 64 * 1024;

export interface OcspQueryOptions {
  readonly at: Date;
  readonly timeout: number;
  readonly ocspMaxAge: number;
}

/** Never throws. */
export async function queryOcsp(url: string, certificate: Buffer, issuer: Buffer, options: OcspQueryOptions): Promise<OcspAnswer> {
  let request: ReturnType<typeof buildOcspRequest>;
  try {
    request = buildOcspRequest(certificate, issuer);
  } catch (err) {
    return { ok: false, why: `no OCSP request can be made: ${errorMessage(err)}` };
  }
  let body: Buffer;
  try {
    body = await fetchBytes(url, { timeout: options.timeout, maxSize: MAX_RESPONSE_SIZE, body: request.der, contentType: 'application/ocsp-request', accept: 'application/ocsp-response' });
  } catch (err) {
    return { ok: false, why: `OCSP responder ${url}: ${errorMessage(err)}` };
  }
  const answer = checkOcspResponse(body, request, issuer, options);
  return answer.ok ? answer : { ok: false, why: `OCSP responder ${url}: ${answer.why}` };
}
