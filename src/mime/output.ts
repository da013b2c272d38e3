/**
 * Collects the pieces of a canonical entity in order and assembles them with
 * one allocation. Pieces are mostly views into the received message, so until
 * the final Buffer the output costs no copy of the message; LF -> CRLF
 * conversion and base64 encoding happen while writing into that one Buffer.
 */
import { base64Length, writeBase64 } from './base64.js';
import { CR, LF } from './bytes.js';
import { quotedPrintableLength, writeQuotedPrintable } from './quoted-printable.js';
import type { QpOptions } from './quoted-printable.js';

type Segment =
  | { readonly kind: 'exact'; readonly buf: Buffer }
  | { readonly kind: 'lines'; readonly buf: Buffer }
  | { readonly kind: 'base64'; readonly chunks: readonly Buffer[]; readonly size: number; readonly finalBreak: boolean }
  | { readonly kind: 'qp'; readonly chunks: readonly Buffer[]; readonly options: QpOptions; length: number };

export class OutputBuilder {
  private readonly segments: Segment[] = [];

  /** Bytes that are already canonical (generated headers, QP output). */
  exact(buf: Buffer): void {
    if (buf.length > 0) this.segments.push({ kind: 'exact', buf });
  }

  /** Received bytes that are canonical except that a bare LF must become CRLF. */
  lines(buf: Buffer): void {
    if (buf.length > 0) this.segments.push({ kind: 'lines', buf });
  }

  /** Bytes to be written base64-encoded, 76-character lines. */
  base64(chunks: readonly Buffer[], finalBreak: boolean): void {
    let size = 0;
    for (const c of chunks) size += c.length;
    if (size > 0) this.segments.push({ kind: 'base64', chunks, size, finalBreak });
  }

  /** Bytes to be written quoted-printable. */
  quotedPrintable(chunks: readonly Buffer[], options: QpOptions): void {
    this.segments.push({ kind: 'qp', chunks, options, length: -1 });
  }

  /** Assembles the output; `lineEndsFixed` counts the bare LFs that became CRLF. */
  build(): { buffer: Buffer; lineEndsFixed: number } {
    // Pass 1: exact length. The byte before a segment may be the CR of a CRLF
    // that the segment's first LF completes, so track the last byte written.
    let length = 0;
    let fixed = 0;
    let last = -1;
    for (const s of this.segments) {
      if (s.kind === 'base64') {
        length += base64Length(s.size, s.finalBreak);
        last = s.finalBreak ? LF : 0x3d;
        continue;
      }
      if (s.kind === 'qp') {
        s.length = quotedPrintableLength(s.chunks, s.options);
        length += s.length;
        last = -1; // QP output never ends with a bare CR
        continue;
      }
      length += s.buf.length;
      if (s.kind === 'lines') {
        let i = s.buf.indexOf(LF);
        while (i !== -1) {
          const before = i === 0 ? last : s.buf[i - 1];
          if (before !== CR) fixed++;
          i = s.buf.indexOf(LF, i + 1);
        }
      }
      last = s.buf[s.buf.length - 1] as number;
    }
    length += fixed;

    // Pass 2: write.
    const out = Buffer.allocUnsafe(length);
    let pos = 0;
    last = -1;
    for (const s of this.segments) {
      if (s.kind === 'base64') {
        pos = writeBase64(s.chunks, out, pos, s.finalBreak);
        last = s.finalBreak ? LF : 0x3d;
        continue;
      }
      if (s.kind === 'qp') {
        pos = writeQuotedPrintable(s.chunks, s.options, out, pos);
        last = -1;
        continue;
      }
      if (s.kind === 'exact') {
        pos += s.buf.copy(out, pos);
      } else {
        let from = 0;
        let i = s.buf.indexOf(LF);
        while (i !== -1) {
          const before = i === 0 ? last : s.buf[i - 1];
          if (before !== CR) {
            pos += s.buf.copy(out, pos, from, i);
            out[pos++] = CR;
            from = i; // the LF itself is copied with the next range
          }
          i = s.buf.indexOf(LF, i + 1);
        }
        pos += s.buf.copy(out, pos, from);
      }
      last = s.buf[s.buf.length - 1] as number;
    }
    if (pos !== length) throw new Error(`output length mismatch: ${pos} != ${length}`);
    return { buffer: out, lineEndsFixed: fixed };
  }
}
