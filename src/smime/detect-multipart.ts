/**
 * Byte-offset splitting of one entity (header/body) and of a multipart body
 * into its parts, as RFC 2046 section 5.1.1 defines them: a delimiter line is
 * "--" boundary, optionally "--" (close), then transport padding (linear
 * white space) and a line break; the line break BEFORE a delimiter belongs to
 * the delimiter, not to the part. Nothing is copied or re-serialised: every
 * result is an offset into the original buffer, because a multipart/signed
 * signature covers exactly those bytes (RFC 1847, RFC 8551 section 3.5).
 * CRLF and LF-only line endings are both accepted.
 */
import { CR, LF } from '../mime/bytes.js';

/** Offsets of one entity in the message buffer. */
export interface EntityRange {
  /** First byte of the entity's header. */
  readonly start: number;
  /** End of the header fields (start of the empty line); equals start for an entity without header. */
  readonly headerEnd: number;
  /** First byte of the body (after the empty line). */
  readonly bodyStart: number;
  /** End of the entity (exclusive). */
  readonly end: number;
}

/** Splits raw[start, end) at the first empty line (CRLF or LF). A part without empty line is all header. */
export function entityRange(whole: Buffer, start: number, end: number): EntityRange {
  // Searches stop at `end`: an entity among thousands must not make each one scan the rest of the message.
  const raw = whole.subarray(0, end);
  let pos = start;
  while (pos < end) {
    if (raw[pos] === LF) return { start, headerEnd: pos, bodyStart: pos + 1, end };
    if (raw[pos] === CR && pos + 1 < end && raw[pos + 1] === LF) return { start, headerEnd: pos, bodyStart: pos + 2, end };
    const next = raw.indexOf(LF, pos);
    if (next === -1 || next >= end) break;
    pos = next + 1;
  }
  return { start, headerEnd: end, bodyStart: end, end };
}

export interface MultipartParts {
  /** [start, end) of each body part's bytes (header + body), in order. */
  readonly parts: ReadonlyArray<readonly [number, number]>;
  /** Whether a close delimiter ("--boundary--") was found. */
  readonly closed: boolean;
  /** Set when more than maxParts parts were found; parts then holds only the first maxParts + 1. */
  readonly tooMany?: true;
}

function isPadding(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09;
}

/** Start of the line break that ends just before `lineStart` (CRLF or LF), never before `floor`. */
function breakBefore(raw: Buffer, lineStart: number, floor: number): number {
  if (lineStart - 2 >= floor && raw[lineStart - 2] === CR && raw[lineStart - 1] === LF) return lineStart - 2;
  if (lineStart - 1 >= floor && raw[lineStart - 1] === LF) return lineStart - 1;
  return lineStart;
}

/**
 * Finds the parts of the multipart body raw[bodyStart, end). Preamble and
 * epilogue are skipped. Returns closed=false when the close delimiter is
 * missing; the last part then runs to `end`. Stops early (tooMany) after
 * more than maxParts parts.
 */
export function splitMultipart(whole: Buffer, bodyStart: number, end: number, boundary: string, maxParts = Infinity): MultipartParts {
  const dashBoundary = Buffer.from('--' + boundary, 'latin1');
  const parts: Array<readonly [number, number]> = [];
  let partStart = -1;
  // A delimiter is a whole line's start; a boundary with a line break in it can never be one.
  const searchable = !dashBoundary.includes(LF);
  // A view that ends at `end` (no copy, same offsets): every search stays inside this body. Searching the whole
  // message instead made each of thousands of nested or sibling multiparts whose boundary never comes scan to
  // its end (quadratic: seconds per hostile message with the event loop blocked).
  const raw = whole.subarray(0, end);
  let pos = bodyStart;
  while (searchable && pos < end) {
    // Straight to the next occurrence (native search) instead of comparing at every line start.
    const hit = raw.indexOf(dashBoundary, pos);
    if (hit === -1 || hit + dashBoundary.length > end) break;
    if (hit !== bodyStart && raw[hit - 1] !== LF) {
      pos = hit + 1;
      continue;
    }
    const eol = raw.indexOf(LF, hit);
    const lineEnd = eol === -1 || eol >= end ? end : eol + 1;
    let p = hit + dashBoundary.length;
    const close = raw[p] === 0x2d && raw[p + 1] === 0x2d && p + 1 < lineEnd;
    if (close) p += 2;
    while (p < lineEnd && isPadding(raw[p])) p++;
    const atLineEnd = p === lineEnd || (raw[p] === LF && p + 1 === lineEnd) || (raw[p] === CR && raw[p + 1] === LF && p + 2 === lineEnd);
    if (atLineEnd) {
      if (partStart >= 0) parts.push([partStart, Math.max(partStart, breakBefore(raw, hit, bodyStart))]);
      if (close) return { parts, closed: true };
      if (parts.length > maxParts) return { parts, closed: false, tooMany: true }; // bounded memory on hostile fan-out
      partStart = lineEnd;
    }
    pos = lineEnd;
  }
  if (partStart >= 0) parts.push([partStart, end]);
  return { parts, closed: false };
}
