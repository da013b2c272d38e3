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

/**
 * The field name of the header line at buf[start, end) (RFC 5322 ftext:
 * printable ASCII except ":", then optional WSP and ":"), '' when the line
 * is not a field; name, blanks and colon within the first 1,000 bytes. Read
 * from the bytes: a header of 10 MB in short fields has 180,000 of them,
 * and a string per line would double what splitting it costs.
 */
function fieldNameAt(buf: Buffer, start: number, end: number): string {
  const stop = Math.min(end, start + 1000);
  let i = start;
  while (i < stop) {
    const b = buf[i] as number;
    if (b < 0x21 || b > 0x7e || b === 0x3a) break;
    i++;
  }
  if (i === start) return '';
  let j = i;
  while (j < stop && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
  return j < stop && buf[j] === 0x3a ? buf.toString('latin1', start, i) : '';
}

/** Does the field at buf[start, end) begin with `lowerName` (ASCII, any case)? A cheap test before fieldNameAt. */
function startsWithName(buf: Buffer, start: number, end: number, lowerName: string): boolean {
  if (end - start <= lowerName.length) return false;
  for (let k = 0; k < lowerName.length; k++) {
    const b = buf[start + k] as number;
    if ((b >= 0x41 && b <= 0x5a ? b + 0x20 : b) !== lowerName.charCodeAt(k)) return false;
  }
  return true;
}

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
 * Calls `visit(start, end)` for each field of a header block, in order: a
 * line starting with SP/HTAB continues the previous field (RFC 5322
 * section 2.2.3); stops at an empty line. Nothing is allocated per field,
 * so a reader that wants a few fields of a huge header pays for those only.
 */
function forEachField(header: Buffer, visit: (start: number, end: number) => void): void {
  let start = -1;
  let pos = 0;
  while (pos < header.length) {
    const first = header[pos];
    if (first === LF || (first === CR && header[pos + 1] === LF)) break; // empty line ends the block
    const eol = header.indexOf(LF, pos);
    const lineEnd = eol === -1 ? header.length : eol + 1;
    if (first !== 0x20 && first !== 0x09) {
      if (start >= 0 && pos > start) visit(start, pos);
      start = pos;
    } else if (start < 0) {
      start = pos; // a block that begins with a continuation line: keep it as a nameless field
    }
    pos = lineEnd;
  }
  if (start >= 0 && pos > start) visit(start, pos);
}

/**
 * A field found by splitFields: its bytes become a view only when read. A
 * Buffer view costs about 200 bytes of heap, and a hostile header of 45 MB
 * in short fields has 800,000 of them, of which a reader wants a few.
 */
class FoundField implements HeaderField {
  constructor(
    readonly name: string,
    private readonly header: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {}

  get raw(): Buffer {
    return this.header.subarray(this.start, this.end);
  }
}

/** Splits a header block into fields (see forEachField). */
export function splitFields(header: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  forEachField(header, (start, end) => {
    fields.push(new FoundField(fieldNameAt(header, start, end), header, start, end));
  });
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
  const values: string[] = [];
  forEachField(headerBytes, (start, end) => {
    if (!startsWithName(headerBytes, start, end, wanted)) return;
    const fieldName = fieldNameAt(headerBytes, start, end);
    if (fieldName.length === wanted.length) values.push(fieldValue({ name: fieldName, raw: headerBytes.subarray(start, end) }));
  });
  return values;
}

/**
 * Bare, lower-cased addresses from an address-list header value (groups
 * flattened, display names and comments dropped, duplicates removed), using
 * nodemailer's maintained parser.
 */
export function parseAddressList(value: string): string[] {
  const known = ADDRESS_LISTS.get(value);
  if (known) return [...known];
  const seen = new Set<string>();
  for (const entry of addressparser(value, { flatten: true })) {
    const address = entry.address.trim().toLowerCase();
    if (address.includes('@')) seen.add(address);
  }
  const addresses = [...seen];
  if (value.length <= MAX_REMEMBERED_LIST) {
    if (ADDRESS_LISTS.size >= MAX_REMEMBERED_LISTS) ADDRESS_LISTS.clear();
    ADDRESS_LISTS.set(value, addresses);
  }
  return [...addresses];
}

/**
 * The same From and Sender fields arrive with every message of a
 * correspondent: their parsed lists are kept (bounded; a copy is handed out).
 */
const ADDRESS_LISTS = new Map<string, readonly string[]>();
const MAX_REMEMBERED_LISTS = 1024;
const MAX_REMEMBERED_LIST = 998;
