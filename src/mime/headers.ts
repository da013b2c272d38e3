/**
 * Reading header fields from raw header bytes, for every module that needs a
 * field value (From/To/Cc for the envelope, Content-Type for detection)
 * without re-serialising the message. Nothing here copies the message: the
 * results are views into the input or short strings.
 */
import { isUtf8 } from 'node:buffer';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { CR, LF } from './bytes.js';

/** One header field as received: name plus every physical line of it. */
export interface HeaderField {
  /** Field name as written ('' for a line that is not a field, e.g. an mbox "From " line). */
  readonly name: string;
  /** The raw bytes, including folded continuation lines and their line endings. */
  readonly raw: Buffer;
}

const FIELD_NAME = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/;

/**
 * Splits a message at the first empty line (CRLF or LF-only). `header` keeps
 * the line ending of its last field but not the empty line; both are views.
 * A message without an empty line is all header.
 */
export function splitHeaderBody(raw: Buffer): { header: Buffer; body: Buffer } {
  let pos = 0;
  while (pos < raw.length) {
    if (raw[pos] === LF) return { header: raw.subarray(0, pos), body: raw.subarray(pos + 1) };
    if (raw[pos] === CR && raw[pos + 1] === LF) return { header: raw.subarray(0, pos), body: raw.subarray(pos + 2) };
    const next = raw.indexOf(LF, pos);
    if (next === -1) break;
    pos = next + 1;
  }
  return { header: raw, body: raw.subarray(raw.length) };
}

/**
 * Splits a header block into fields. A line starting with SP/HTAB continues
 * the previous field (RFC 5322 section 2.2.3); stops at an empty line.
 */
export function splitFields(header: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let start = -1;
  let pos = 0;
  const close = (end: number): void => {
    if (start < 0 || end <= start) return;
    const raw = header.subarray(start, end);
    const m = FIELD_NAME.exec(raw.subarray(0, Math.min(raw.length, 1000)).toString('latin1'));
    fields.push({ name: m?.[1] ?? '', raw });
  };
  while (pos < header.length) {
    const first = header[pos];
    if (first === LF || (first === CR && header[pos + 1] === LF)) break; // empty line ends the block
    const eol = header.indexOf(LF, pos);
    const lineEnd = eol === -1 ? header.length : eol + 1;
    if (first !== 0x20 && first !== 0x09) {
      close(pos);
      start = pos;
    } else if (start < 0) {
      start = pos; // a block that begins with a continuation line: keep it as a nameless field
    }
    pos = lineEnd;
  }
  close(pos);
  return fields;
}

/** The unfolded value of one field, without the name, decoded as UTF-8 when valid (RFC 6532) else latin1. */
export function fieldValue(field: HeaderField): string {
  const colon = field.raw.indexOf(0x3a);
  const bytes = colon === -1 ? field.raw : field.raw.subarray(colon + 1);
  const text = bytes.toString(isUtf8(bytes) ? 'utf8' : 'latin1');
  return unfold(text).trim();
}

/** RFC 5322 unfolding: remove the line break before a continuation, keep the whitespace. */
export function unfold(text: string): string {
  return text.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n$/, '');
}

/**
 * The first value of a header field, unfolded and trimmed; undefined if the
 * field is absent. RFC 2047 encoded words are NOT decoded. Accepts a header
 * block or a whole message (it stops at the empty line).
 */
export function getHeader(headerBytes: Buffer, name: string): string | undefined {
  return getHeaders(headerBytes, name)[0];
}

/** All values of a header field, in order. */
export function getHeaders(headerBytes: Buffer, name: string): string[] {
  const wanted = name.toLowerCase();
  return splitFields(headerBytes)
    .filter((f) => f.name.toLowerCase() === wanted)
    .map(fieldValue);
}

/**
 * Bare, lower-cased addresses from an address-list header value (groups
 * flattened, display names and comments dropped, duplicates removed), using
 * nodemailer's maintained parser.
 */
export function parseAddressList(value: string): string[] {
  const seen = new Set<string>();
  for (const entry of addressparser(value, { flatten: true })) {
    const address = entry.address.trim().toLowerCase();
    if (address.includes('@')) seen.add(address);
  }
  return [...seen];
}
