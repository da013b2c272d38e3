/**
 * Decoding the body of an S/MIME part (application/pkcs7-signature or
 * pkcs7-mime) to DER. RFC 8551 section 3.1.3 asks for base64; binary (and
 * 7bit/8bit labels, which some gateways leave on binary data) are taken as
 * they are. Base64 is decoded strictly: line breaks and white space are
 * skipped, any other foreign character makes the part malformed instead of
 * being silently dropped (Node's decoder would ignore it).
 */

export type DecodedBody = { readonly ok: true; readonly der: Buffer } | { readonly ok: false; readonly reason: 'unsupported-transfer-encoding' | 'bad-base64' };

/**
 * The base64 alphabet and white space, then at most two "=" (white space
 * between them allowed). Linear: the first class cannot match "=", so a
 * failing match backtracks at most once over the input.
 */
const BASE64_BODY = /^[A-Za-z0-9+/\t\n\r ]*(?:=[\t\n\r ]*){0,2}$/;

/** The base64 characters without white space, or undefined when the body is not strict base64 (a whole number of quads). */
export function compactBase64(body: Buffer): string | undefined {
  const text = body.toString('latin1');
  if (!BASE64_BODY.test(text)) return undefined;
  const compact = text.replace(/[\t\n\r ]+/g, '');
  return compact.length % 4 === 0 ? compact : undefined;
}

export function decodeSmimeBody(body: Buffer, transferEncoding: string): DecodedBody {
  if (transferEncoding === 'base64') {
    const compact = compactBase64(body);
    if (compact === undefined) return { ok: false, reason: 'bad-base64' };
    return { ok: true, der: Buffer.from(compact, 'base64') };
  }
  if (transferEncoding === 'binary' || transferEncoding === '7bit' || transferEncoding === '8bit') {
    return { ok: true, der: body };
  }
  return { ok: false, reason: 'unsupported-transfer-encoding' };
}
