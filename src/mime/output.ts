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

  /**
   * Assembles the output as chunks: received bytes that need no change stay
   * views into the message (no copy); only re-encoded segments and segments
   * with bare LFs are written into new buffers. `lineEndsFixed` counts the
   * bare LFs that became CRLF.
   */
  build(): { chunks: Buffer[]; length: number; lineEndsFixed: number } {
    const chunks: Buffer[] = [];
    let length = 0;
    let fixed = 0;
    // The byte before a segment may be the CR of a CRLF that the segment's
    // first LF completes, so track the last byte written.
    let last = -1;
    for (const s of this.segments) {
      if (s.kind === 'base64') {
        const out = Buffer.allocUnsafe(base64Length(s.size, s.finalBreak));
        const end = writeBase64(s.chunks, out, 0, s.finalBreak);
        if (end !== out.length) throw new Error(`base64 length mismatch: ${end} != ${out.length}`);
        chunks.push(out);
        length += out.length;
        last = s.finalBreak ? LF : 0x3d;
        continue;
      }
      if (s.kind === 'qp') {
        const out = Buffer.allocUnsafe(quotedPrintableLength(s.chunks, s.options));
        const end = writeQuotedPrintable(s.chunks, s.options, out, 0);
        if (end !== out.length) throw new Error(`quoted-printable length mismatch: ${end} != ${out.length}`);
        chunks.push(out);
        length += out.length;
        last = -1; // QP output never ends with a bare CR
        continue;
      }
      const bare = s.kind === 'lines' ? bareLineFeeds(s.buf, last) : 0;
      if (bare === 0) {
        chunks.push(s.buf);
      } else {
        chunks.push(withCrlf(s.buf, last, bare));
        fixed += bare;
      }
      length += s.buf.length + bare;
      last = s.buf[s.buf.length - 1] as number;
    }
    return { chunks, length, lineEndsFixed: fixed };
  }
}

/** Number of LFs in `buf` not preceded by CR (`last` is the byte before `buf`). */
function bareLineFeeds(buf: Buffer, last: number): number {
  let count = 0;
  let i = buf.indexOf(LF);
  while (i !== -1) {
    const before = i === 0 ? last : buf[i - 1];
    if (before !== CR) count++;
    i = buf.indexOf(LF, i + 1);
  }
  return count;
}

/** A copy of `buf` with a CR inserted before each of its `bare` bare LFs. */
function withCrlf(buf: Buffer, last: number, bare: number): Buffer {
  const out = Buffer.allocUnsafe(buf.length + bare);
  let pos = 0;
  let from = 0;
  let i = buf.indexOf(LF);
  while (i !== -1) {
    const before = i === 0 ? last : buf[i - 1];
    if (before !== CR) {
      pos += buf.copy(out, pos, from, i);
      out[pos++] = CR;
      from = i; // the LF itself is copied with the next range
    }
    i = buf.indexOf(LF, i + 1);
  }
  pos += buf.copy(out, pos, from);
  return out;
}
