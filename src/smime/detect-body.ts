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

/** The decoded bytes, or undefined when the body is not strict base64 (alphabet, white space, a whole number of quads). */
export function decodeStrictBase64(body: Buffer): Buffer | undefined {
  const text = body.toString('latin1');
  if (!BASE64_BODY.test(text)) return undefined;
  let whiteSpace = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (byte === 0x0a || byte === 0x0d || byte === 0x20 || byte === 0x09) whiteSpace++;
  }
  if ((body.length - whiteSpace) % 4 !== 0) return undefined;
  // Node's decoder skips white space, the only bytes besides the alphabet and the final "=" left now: no compacted copy.
  return Buffer.from(text, 'base64');
}

export function decodeSmimeBody(body: Buffer, transferEncoding: string): DecodedBody {
  if (transferEncoding === 'base64') {
    const der = decodeStrictBase64(body);
    return der === undefined ? { ok: false, reason: 'bad-base64' } : { ok: true, der };
  }
  if (transferEncoding === 'binary' || transferEncoding === '7bit' || transferEncoding === '8bit') {
    return { ok: true, der: body };
  }
  return { ok: false, reason: 'unsupported-transfer-encoding' };
}
