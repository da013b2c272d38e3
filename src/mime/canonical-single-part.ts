/**
 * The common case of outbound mail, answered without the MIME splitter: one
 * text part whose bytes are already canonical (7-bit, CRLF, no line over 998
 * octets). Nothing needs re-encoding, so the signed entity is the
 * Content-* fields, the empty line and the body, all views into the
 * message. Anything else (multipart, message/*, 8bit labels, bare LF,
 * several Content-Type fields...) returns undefined and takes the
 * splitter's path, which gives the same bytes for this case (a property
 * test compares the two).
 */
import { CR, LF, isSevenBitSafe, scanChunks } from './bytes.js';
import { splitFields, splitHeaderBody, type HeaderField } from './headers.js';
import type { MimeLimits } from './limits.js';
import { isEntityContentField } from './content-fields.js';

export interface CanonicalSinglePart {
  readonly outerFields: readonly HeaderField[];
  readonly entity: Buffer[];
  readonly entityLength: number;
}

/** Encodings under which 7-bit safe bytes stay as they are (8bit/binary labels would be rewritten to 7bit). */
const KEPT_ENCODINGS = new Set(['7bit', 'quoted-printable', 'base64']);

const TEXT_TYPE = /^text\/[a-z0-9!#$&^_.+-]+$/;

export function canonicalSinglePart(raw: Buffer, limits: MimeLimits): CanonicalSinglePart | undefined {
  const scan = scanChunks([raw]);
  if (!isSevenBitSafe(scan) || scan.bareLf) return undefined;
  const { header, body } = splitHeaderBody(raw);
  // The header must end with a CRLF line and be followed by the empty CRLF line.
  const end = header.length;
  if (end < 2 || header[end - 2] !== CR || header[end - 1] !== LF || raw[end] !== CR || raw[end + 1] !== LF) return undefined;
  if (end + 2 > limits.maxHeaderSize) return undefined;

  const outerFields: HeaderField[] = [];
  const contentFields: HeaderField[] = [];
  let contentType: string | undefined;
  let types = 0;
  let encodings = 0;
  for (const field of splitFields(header)) {
    const name = field.name.toLowerCase();
    if (name === '') return undefined;
    if (!isEntityContentField(name)) {
      outerFields.push(field);
      continue;
    }
    contentFields.push(field);
    if (name === 'content-type') {
      types++;
      contentType = mediaType(field.raw);
    } else if (name === 'content-transfer-encoding') {
      encodings++;
      if (!KEPT_ENCODINGS.has(fieldText(field.raw))) return undefined;
    }
  }
  if (types !== 1 || encodings > 1 || !contentType || !TEXT_TYPE.test(contentType)) return undefined;

  const entity = [...contentFields.map((f) => f.raw), raw.subarray(end, end + 2), body];
  const entityLength = entity.reduce((n, chunk) => n + chunk.length, 0);
  return { outerFields, entity, entityLength };
}

/** The unfolded value after the colon, lower-cased (7-bit input, so latin1 is exact). */
function fieldText(raw: Buffer): string {
  const text = raw.toString('latin1');
  return text
    .slice(text.indexOf(':') + 1)
    .replace(/\r\n[ \t]/g, ' ')
    .trim()
    .toLowerCase();
}

/** type/subtype of a Content-Type value as written before any parameter (a comment or space in it fails TEXT_TYPE). */
function mediaType(raw: Buffer): string | undefined {
  return fieldText(raw).split(';', 1)[0]?.trim();
}
