import { getHeaders, parseAddressList, splitHeaderBody } from '../mime/headers.js';
import type { Envelope } from '../pipeline/types.js';

/**
 * The envelope of a message given on stdin: --from/--to when given,
 * otherwise the From header and the To and Cc headers.
 */
export function envelopeFromHeaders(raw: Buffer, from: string | undefined, to: readonly string[] | undefined): Envelope {
  const { header } = splitHeaderBody(raw);
  const addresses = (name: string) => getHeaders(header, name).flatMap((value) => parseAddressList(value));
  return {
    mailFrom: from ?? addresses('from')[0] ?? '',
    rcptTo: to && to.length > 0 ? [...to] : [...addresses('to'), ...addresses('cc')],
  };
}
