/**
 * The MIME part that replaces an offloaded attachment: a multipart/alternative
 * of the text/plain and text/html notes, UTF-8 in quoted-printable, so the
 * part is 7-bit with short lines and the signing stage keeps it as it is.
 */
import { randomBytes } from 'node:crypto';
import { splitFields } from '../mime/headers.js';
import { encodeQuotedPrintable } from '../mime/quoted-printable.js';
import { noteHtml, noteText, type OffloadedFile } from './offload-note.js';
import { isEntityContentField } from '../mime/content-fields.js';

export type LineEnding = '\r\n' | '\n';

export interface NotePartOptions {
  /** The line ending the rest of the message uses. */
  readonly eol: LineEnding;
  /**
   * The header block of the top-level entity when the attachment is the whole
   * message: its own fields stay (byte-exact), its Content-* fields give way.
   */
  readonly rootHeader?: Buffer;
}

function qp(text: string, eol: LineEnding): string {
  const encoded = encodeQuotedPrintable([Buffer.from(text, 'utf8')], { text: true }).toString('latin1');
  // QP output is ASCII and a CR in it only ever starts a hard line break.
  return eol === '\n' ? encoded.replace(/\r\n/g, '\n') : encoded;
}

/** A boundary no content line can match: QP encodes a "-" at a line start, and 144 random bits. */
function newBoundary(): string {
  return `=_siegel-note-${randomBytes(18).toString('base64url')}`;
}

function keptRootFields(rootHeader: Buffer): { kept: Buffer[]; hasMimeVersion: boolean } {
  const kept: Buffer[] = [];
  let hasMimeVersion = false;
  for (const field of splitFields(rootHeader)) {
    const name = field.name.toLowerCase();
    if (isEntityContentField(name)) continue;
    if (name === 'mime-version') hasMimeVersion = true;
    kept.push(field.raw);
  }
  return { kept, hasMimeVersion };
}

/** The replacement part's bytes: header, empty line, body. */
export function notePart(file: OffloadedFile, options: NotePartOptions): Buffer {
  const { eol, rootHeader } = options;
  const boundary = newBoundary();
  const leafHeader = (type: string): string =>
    `Content-Type: ${type}; charset=utf-8${eol}Content-Transfer-Encoding: quoted-printable${eol}${eol}`;
  const body = [
    `--${boundary}${eol}`,
    leafHeader('text/plain'),
    qp(noteText(file), eol),
    `${eol}--${boundary}${eol}`,
    leafHeader('text/html'),
    qp(noteHtml(file), eol),
    `${eol}--${boundary}--`,
  ].join('');
  const contentType = `Content-Type: multipart/alternative;${eol} boundary="${boundary}"${eol}`;
  if (!rootHeader) return Buffer.from(`${contentType}${eol}${body}`, 'latin1');

  const { kept, hasMimeVersion } = keptRootFields(rootHeader);
  const last = kept[kept.length - 1];
  // A last field without its line ending (header at the end of the input) gets one.
  const fixEnd = last !== undefined && last[last.length - 1] !== 0x0a ? eol : '';
  const own = `${fixEnd}${hasMimeVersion ? '' : `MIME-Version: 1.0${eol}`}${contentType}${eol}${body}${eol}`;
  return Buffer.concat([...kept, Buffer.from(own, 'latin1')]);
}
