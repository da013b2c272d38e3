/**
 * The top-level header of a message split the way S/MIME layers need it:
 * the fields that describe the message (From, Subject, Received...) stay
 * outside a layer, the Content-* fields belong to the entity inside it
 * (RFC 8551 3.1). Raw bytes throughout: nothing is re-serialised.
 */
import { splitFields, splitHeaderBody, type HeaderField } from './headers.js';

export interface TopLevel {
  /** The whole header block (view). */
  readonly header: Buffer;
  /** Every field that is not Content-*, each ending in a line break; nameless lines (mbox "From ") dropped. */
  readonly outer: Buffer;
  readonly fields: readonly HeaderField[];
  /** The body (view). */
  readonly body: Buffer;
}

export function isContentField(field: HeaderField): boolean {
  return field.name.toLowerCase().startsWith('content-');
}

export function splitTopLevel(raw: Buffer): TopLevel {
  const { header, body } = splitHeaderBody(raw);
  const fields = splitFields(header);
  let outer: Buffer | undefined;
  return {
    header,
    // Built when read: most readers want the fields only, and a hostile 45 MB header made it cost 250 MB each time.
    get outer(): Buffer {
      outer ??= Buffer.concat(fields.filter((f) => f.name !== '' && !isContentField(f)).map(withLineBreak));
      return outer;
    },
    fields,
    body,
  };
}

function withLineBreak(field: HeaderField): Buffer {
  return field.raw[field.raw.length - 1] === 0x0a ? field.raw : Buffer.concat([field.raw, Buffer.from('\r\n')]);
}

/** The message with its header block replaced by `fields` (raw field bytes, each ending in a line break); the empty line and body stay views. */
export function withHeaderFields(raw: Buffer, header: Buffer, fields: readonly Buffer[]): Buffer[] {
  return [...fields, raw.subarray(header.length)];
}
