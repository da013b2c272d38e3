/**
 * Reads only the outer contentType of a CMS ContentInfo (RFC 5652 section 3)
 * so detection can tell signed, enveloped, authEnveloped and compressed data
 * apart when a sender left out the smime-type parameter (e.g. a bare
 * "smime.p7m"). Full parsing belongs to the verify/decrypt stages; this looks
 * at a few dozen bytes, accepts BER indefinite lengths (streamed output of
 * OpenSSL and Outlook) and never throws.
 */

/** Content type OIDs detection distinguishes. */
export const CMS_CONTENT_TYPE = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  /** RFC 5083 id-ct-authEnvelopedData. */
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  /** RFC 3274 id-ct-compressedData. */
  compressedData: '1.2.840.113549.1.9.16.1.9',
} as const;

/** Length of a DER/BER length field at `pos`; undefined when malformed. */
function skipLength(der: Uint8Array, pos: number): number | undefined {
  const first = der[pos];
  if (first === undefined) return undefined;
  if (first < 0x80) return pos + 1;
  if (first === 0x80) return pos + 1; // indefinite (BER)
  const count = first & 0x7f;
  if (count > 4 || pos + 1 + count > der.length) return undefined;
  return pos + 1 + count;
}

function decodeOid(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  const arcs: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) return undefined;
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  if ((bytes[bytes.length - 1] as number) & 0x80) return undefined;
  return arcs.join('.');
}

/** The dotted contentType OID of a ContentInfo, or undefined if `der` does not start like one. */
export function contentInfoType(der: Uint8Array): string | undefined {
  if (der[0] !== 0x30) return undefined;
  const afterLength = skipLength(der, 1);
  if (afterLength === undefined || der[afterLength] !== 0x06) return undefined;
  const oidLength = der[afterLength + 1];
  if (oidLength === undefined || oidLength === 0 || oidLength > 0x7f) return undefined;
  const start = afterLength + 2;
  if (start + oidLength > der.length) return undefined;
  return decodeOid(der.subarray(start, start + oidLength));
}
