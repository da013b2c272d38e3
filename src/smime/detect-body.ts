/**
 * Decoding the body of an S/MIME part (application/pkcs7-signature or
 * pkcs7-mime) to DER. RFC 8551 section 3.1.3 asks for base64; binary (and
 * 7bit/8bit labels, which some gateways leave on binary data) are taken as
 * they are. Base64 is decoded strictly: line breaks and white space are
 * skipped, any other foreign character makes the part malformed instead of
 * being silently dropped (Node's decoder would ignore it).
 */

export type DecodedBody = { readonly ok: true; readonly der: Buffer } | { readonly ok: false; readonly reason: 'unsupported-transfer-encoding' | 'bad-base64' };

/** Linear scan (no regex backtracking on hostile input): alphabet, white space, then at most two "=" at the end. */
function compactBase64(body: Buffer): string | undefined {
  const out = Buffer.allocUnsafe(body.length);
  let length = 0;
  let padding = 0;
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a) continue;
    const alphabet =
      (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x2b || byte === 0x2f;
    if (byte === 0x3d) padding++;
    else if (!alphabet || padding > 0) return undefined;
    out[length++] = byte;
  }
  return padding <= 2 && length % 4 === 0 ? out.toString('latin1', 0, length) : undefined;
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
