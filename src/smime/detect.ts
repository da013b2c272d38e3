/**
 * Finds the first S/MIME layer of a received message: the top-level entity,
 * or else the encapsulated message of a message/rfc822 part (a forwarded
 * signed mail), searched depth-first in part order. Only byte offsets into
 * the input are computed; nothing is re-serialised, because a detached
 * signature covers the exact received bytes (DESIGN rule 1).
 *
 * Untrusted input: the function is total (never throws on any byte
 * sequence), refuses messages above limits.maxSize, stops at
 * limits.maxDepth nesting and at limits.maxParts parts, and every scan is linear
 * in the bytes of the level it looks at.
 */
import { getHeaders } from '../mime/headers.js';
import { CR, LF } from '../mime/bytes.js';
import { decodeSmimeBody } from './detect-body.js';
import { parseContentType, parseTransferEncoding, type ContentType } from './detect-content-type.js';
import { CMS_CONTENT_TYPE, contentInfoType } from './detect-der.js';
import { entityRange, splitMultipart, type EntityRange } from './detect-multipart.js';
import type { Malformed, MalformedReason, Pkcs7Mime, SignatureProtocol, SmimeLimits, SmimeLocation, SmimeStructure } from './detect-types.js';

export type * from './detect-types.js';

/** Upper bound on body parts visited in one message (hostile fan-out). */
const DEFAULT_MAX_PARTS = 10_000;

const NONE: SmimeStructure = { kind: 'none' };

const SIGNATURE_TYPES: ReadonlySet<string> = new Set(['application/pkcs7-signature', 'application/x-pkcs7-signature']);
const MIME_TYPES: ReadonlySet<string> = new Set(['application/pkcs7-mime', 'application/x-pkcs7-mime']);

/** smime-type parameter (RFC 8551 section 3.2.2) -> kind and the content type OID it promises. */
const SMIME_TYPES: Readonly<Record<string, readonly [Pkcs7Mime['kind'], string]>> = {
  'signed-data': ['opaque-signed', CMS_CONTENT_TYPE.signedData],
  'certs-only': ['certs-only', CMS_CONTENT_TYPE.signedData],
  'enveloped-data': ['enveloped', CMS_CONTENT_TYPE.envelopedData],
  'authenveloped-data': ['auth-enveloped', CMS_CONTENT_TYPE.authEnvelopedData],
  'compressed-data': ['compressed', CMS_CONTENT_TYPE.compressedData],
};

/** Kind from the DER alone, for senders that leave out smime-type. */
const KIND_BY_OID: ReadonlyMap<string, Pkcs7Mime['kind']> = new Map([
  [CMS_CONTENT_TYPE.signedData, 'opaque-signed'],
  [CMS_CONTENT_TYPE.envelopedData, 'enveloped'],
  [CMS_CONTENT_TYPE.authEnvelopedData, 'auth-enveloped'],
  [CMS_CONTENT_TYPE.compressedData, 'compressed'],
]);

interface Context {
  readonly raw: Buffer;
  readonly maxDepth: number;
  readonly maxParts: number;
  parts: number;
}

function malformed(reason: MalformedReason, location?: SmimeLocation): Malformed {
  return location ? { kind: 'malformed', reason, location } : { kind: 'malformed', reason };
}

/** Content-Type of an entity; undefined when it appears several times with different values (hostile ambiguity). */
function contentTypeOf(raw: Buffer, range: EntityRange): ContentType | undefined {
  const values = getHeaders(raw.subarray(range.start, range.headerEnd), 'content-type');
  const distinct = new Set(values.map((v) => v.replace(/\s+/g, ' ').toLowerCase()));
  if (distinct.size > 1) return undefined;
  return parseContentType(values[0]);
}

function transferEncodingOf(raw: Buffer, range: EntityRange): string {
  return parseTransferEncoding(getHeaders(raw.subarray(range.start, range.headerEnd), 'content-transfer-encoding')[0]);
}

/** Every bare LF becomes CRLF; undefined when there is none (the entity is already canonical). */
export function canonicalLineEndings(bytes: Buffer): Buffer | undefined {
  let bare = 0;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) if (i === 0 || bytes[i - 1] !== CR) bare++;
  if (bare === 0) return undefined;
  const out = Buffer.allocUnsafe(bytes.length + bare);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === LF && (i === 0 || bytes[i - 1] !== CR)) out[o++] = CR;
    out[o++] = b;
  }
  return out;
}

function hasP7mName(raw: Buffer, range: EntityRange, ct: ContentType): boolean {
  const disposition = parseContentType(getHeaders(raw.subarray(range.start, range.headerEnd), 'content-disposition')[0] ?? 'x');
  const name = ct.params.get('name') ?? disposition.params.get('filename') ?? '';
  return /\.p7m$/i.test(name.trim());
}

function multipartSigned(ctx: Context, location: SmimeLocation, ct: ContentType): SmimeStructure {
  const { raw } = ctx;
  const boundary = ct.params.get('boundary');
  if (boundary === undefined || boundary === '' || boundary.length > 200) return malformed('missing-boundary', location);
  const { parts, closed, tooMany } = splitMultipart(raw, location.bodyStart, location.end, boundary, 2);
  if (tooMany) return malformed('wrong-part-count', location);
  if (!closed) return malformed('missing-close-delimiter', location);
  const [first, second] = parts;
  if (parts.length !== 2 || !first || !second) return malformed('wrong-part-count', location);
  const sigRange = entityRange(raw, second[0], second[1]);
  const sigType = contentTypeOf(raw, sigRange);
  if (!sigType || !SIGNATURE_TYPES.has(sigType.mediaType)) return malformed('signature-part-type', location);
  const declared = ct.params.get('protocol')?.trim().toLowerCase();
  const protocol = (declared ?? sigType.mediaType) as SignatureProtocol;
  const decoded = decodeSmimeBody(raw.subarray(sigRange.bodyStart, sigRange.end), transferEncodingOf(raw, sigRange));
  if (!decoded.ok) return malformed(decoded.reason, location);
  if (contentInfoType(decoded.der) !== CMS_CONTENT_TYPE.signedData) return malformed('not-cms', location);
  const signedEntity = raw.subarray(first[0], first[1]);
  const canonical = canonicalLineEndings(signedEntity);
  const micalg = ct.params.get('micalg')?.trim().toLowerCase();
  return {
    kind: 'multipart-signed',
    location,
    headerEnd: location.headerEnd,
    protocol,
    ...(micalg ? { micalg } : {}),
    boundary,
    signedEntity,
    ...(canonical ? { signedEntityCanonical: canonical } : {}),
    signedEntityStart: first[0],
    signedEntityEnd: first[1],
    signature: decoded.der,
    signaturePartStart: second[0],
    signaturePartEnd: second[1],
  };
}

function pkcs7Mime(ctx: Context, location: SmimeLocation, ct: ContentType): SmimeStructure {
  const { raw } = ctx;
  const decoded = decodeSmimeBody(raw.subarray(location.bodyStart, location.end), transferEncodingOf(raw, location));
  if (!decoded.ok) return malformed(decoded.reason, location);
  const oid = contentInfoType(decoded.der);
  if (oid === undefined) return malformed('not-cms', location);
  const smimeType = ct.params.get('smime-type')?.trim().toLowerCase();
  const promised = smimeType === undefined ? undefined : SMIME_TYPES[smimeType];
  let kind: Pkcs7Mime['kind'] | undefined;
  if (promised) {
    if (promised[1] !== oid) return malformed('smime-type-mismatch', location);
    kind = promised[0];
  } else {
    kind = KIND_BY_OID.get(oid); // absent or unknown smime-type: the DER decides
  }
  if (kind === undefined) return malformed('not-cms', location);
  return { kind, location, der: decoded.der, mediaType: ct.mediaType, ...(smimeType !== undefined ? { smimeType } : {}) };
}

/** The S/MIME layer of one entity (message or encapsulated message), or of the first rfc822 part below it. */
function detectEntity(ctx: Context, start: number, end: number, depth: number, path: readonly number[]): SmimeStructure {
  if (depth > ctx.maxDepth) return malformed('too-deep');
  const range = entityRange(ctx.raw, start, end);
  const location: SmimeLocation = { ...range, path };
  const ct = contentTypeOf(ctx.raw, range);
  if (!ct) return malformed('ambiguous-content-type', location);
  if (ct.mediaType === 'multipart/signed') {
    const protocol = ct.params.get('protocol')?.trim().toLowerCase();
    // Not S/MIME (e.g. PGP/MIME) unless the protocol is ours or missing and the signature part says so.
    if (protocol === undefined || SIGNATURE_TYPES.has(protocol)) {
      const result = multipartSigned(ctx, location, ct);
      if (protocol !== undefined || result.kind !== 'malformed' || result.reason !== 'signature-part-type') return result;
    }
    return NONE;
  }
  if (MIME_TYPES.has(ct.mediaType) || (ct.mediaType === 'application/octet-stream' && hasP7mName(ctx.raw, range, ct))) {
    return pkcs7Mime(ctx, location, ct);
  }
  return searchBody(ctx, range, ct, depth, path);
}

/** Looks for message/rfc822 parts below a non-S/MIME entity. */
function searchBody(ctx: Context, range: EntityRange, ct: ContentType, depth: number, path: readonly number[]): SmimeStructure {
  if (!ct.mediaType.startsWith('multipart/')) return NONE;
  if (depth > ctx.maxDepth) return malformed('too-deep');
  const boundary = ct.params.get('boundary');
  if (boundary === undefined || boundary === '' || boundary.length > 200) return NONE;
  const { parts, tooMany } = splitMultipart(ctx.raw, range.bodyStart, range.end, boundary, ctx.maxParts - ctx.parts);
  if (tooMany) return malformed('too-many-parts');
  for (let i = 0; i < parts.length; i++) {
    if (++ctx.parts > ctx.maxParts) return malformed('too-many-parts');
    const [partStart, partEnd] = parts[i] as readonly [number, number];
    const partPath = [...path, i];
    const partRange = entityRange(ctx.raw, partStart, partEnd);
    const partType = contentTypeOf(ctx.raw, partRange);
    if (!partType) continue; // an ambiguous attachment header is not our layer; leave it to the MIME stages
    let found: SmimeStructure = NONE;
    if (partType.mediaType === 'message/rfc822') {
      found = detectEntity(ctx, partRange.bodyStart, partRange.end, depth + 2, partPath);
    } else if (partType.mediaType.startsWith('multipart/')) {
      found = searchBody(ctx, partRange, partType, depth + 1, partPath);
    }
    if (found.kind !== 'none') return found;
  }
  return NONE;
}

/**
 * Describes the first S/MIME layer of `raw` (see SmimeStructure). Accepts
 * CRLF and LF-only messages; for LF-only multipart/signed input it also
 * returns the CRLF-canonical signed entity that senders actually signed.
 */
export function detectSmime(raw: Buffer, limits: SmimeLimits): SmimeStructure {
  if (raw.length > limits.maxSize) return malformed('too-large');
  try {
    return detectEntity({ raw, maxDepth: limits.maxDepth, maxParts: limits.maxParts ?? DEFAULT_MAX_PARTS, parts: 0 }, 0, raw.length, 0, []);
  } catch {
    // Defensive: the scanners above are written not to throw; if one ever does, the answer is still a verdict.
    return malformed('unreadable');
  }
}
