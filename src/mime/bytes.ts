/**
 * Byte-level facts about MIME content: what counts as 7-bit safe (RFC 5322
 * section 2.3, RFC 2045 section 2.7) and whether 8-bit bytes are UTF-8. The
 * scan runs once over the chunk list of a part, without copying it.
 */

import { isAscii, isUtf8 } from 'node:buffer';

export const CR = 0x0d;
export const LF = 0x0a;
export const CRLF = Buffer.from('\r\n', 'latin1');

/** RFC 5322 section 2.1.1: at most 998 octets per line, excluding CRLF. */
export const MAX_LINE_OCTETS = 998;

export interface ByteScan {
  /** Some byte is >= 0x80. */
  readonly eightBit: boolean;
  /** Some byte is 0x00 (not allowed in 7bit data either). */
  readonly nul: boolean;
  /** Some CR is not followed by LF (a bare LF is fine: it becomes CRLF). */
  readonly bareCr: boolean;
  /** Some LF is not preceded by CR; these are converted to CRLF. */
  readonly bareLf: boolean;
  /** Some line is longer than 998 octets without its line ending. */
  readonly longLine: boolean;
  /** The bytes are well-formed UTF-8 (trivially true for pure ASCII). */
  readonly validUtf8: boolean;
}

/**
 * Scans chunks as one continuous byte stream, so a CRLF or a UTF-8 sequence
 * that straddles two chunks is judged correctly. Runs once or twice per
 * part of every message, so it leans on native scans (isAscii, isUtf8,
 * indexOf) and visits line ends only; byte by byte only for 8-bit text
 * split over several chunks.
 */
export function scanChunks(chunks: readonly Buffer[]): ByteScan {
  const ascii = chunks.every((chunk) => isAscii(chunk));
  const single = chunks.length === 1 ? chunks[0] : undefined;
  if (!ascii && !single) return scanBytewise(chunks);
  return { eightBit: !ascii, ...scanLines(chunks), validUtf8: ascii || (single !== undefined && isUtf8(single)) };
}

/** The line facts of a byte stream, from the positions of LF, CR and NUL alone. */
function scanLines(chunks: readonly Buffer[]): Pick<ByteScan, 'nul' | 'bareCr' | 'bareLf' | 'longLine'> {
  let nul = false;
  let bareCr = false;
  let bareLf = false;
  let longLine = false;
  // Bytes of the current line so far (a trailing CR included) and whether the stream's last byte was CR.
  let lineLen = 0;
  let prevCr = false;
  for (const chunk of chunks) {
    const n = chunk.length;
    if (n === 0) continue;
    if (!nul && chunk.indexOf(0) !== -1) nul = true;
    // A CR must be followed by LF, possibly at the start of this chunk.
    if (prevCr && chunk[0] !== LF) bareCr = true;
    for (let cr = bareCr ? -1 : chunk.indexOf(CR); cr !== -1; cr = chunk.indexOf(CR, cr + 1)) {
      if (cr + 1 < n && chunk[cr + 1] !== LF) {
        bareCr = true;
        break;
      }
    }
    let pos = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) {
        lineLen += n - pos;
        if (n > pos) prevCr = chunk[n - 1] === CR;
        break;
      }
      const crBefore = lf > pos ? chunk[lf - 1] === CR : prevCr;
      if (!crBefore) bareLf = true;
      if (lineLen + (lf - pos) - (crBefore ? 1 : 0) > MAX_LINE_OCTETS) longLine = true;
      lineLen = 0;
      prevCr = false;
      pos = lf + 1;
    }
  }
  if (prevCr) bareCr = true;
  if (lineLen > MAX_LINE_OCTETS) longLine = true;
  return { nul, bareCr, bareLf, longLine };
}

/** The reference scan, byte by byte with a UTF-8 decoder that carries its state across chunks. */
export function scanBytewise(chunks: readonly Buffer[]): ByteScan {
  let eightBit = false;
  let nul = false;
  let bareCr = false;
  let bareLf = false;
  let longLine = false;
  let validUtf8 = true;
  let prevCr = false;
  let lineLen = 0;
  // UTF-8 decoder state: continuation bytes still expected and the allowed
  // range of the next one (this rejects overlongs and surrogates, RFC 3629).
  let need = 0;
  let lo = 0x80;
  let hi = 0xbf;

  for (const chunk of chunks) {
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (b === LF) {
        if (prevCr) {
          lineLen--;
        } else {
          bareLf = true;
        }
        if (lineLen > MAX_LINE_OCTETS) longLine = true;
        lineLen = 0;
        prevCr = false;
        if (need > 0) {
          validUtf8 = false;
          need = 0;
        }
        continue;
      }
      if (prevCr) bareCr = true;
      prevCr = b === CR;
      lineLen++;
      if (b === 0) nul = true;
      if (b < 0x80) {
        if (need > 0) {
          validUtf8 = false;
          need = 0;
        }
        continue;
      }
      eightBit = true;
      if (!validUtf8) continue;
      if (need > 0) {
        if (b < lo || b > hi) {
          validUtf8 = false;
        } else {
          need--;
          lo = 0x80;
          hi = 0xbf;
        }
        continue;
      }
      lo = 0x80;
      hi = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) need = 1;
      else if (b === 0xe0) {
        need = 2;
        lo = 0xa0;
      } else if (b === 0xed) {
        need = 2;
        hi = 0x9f;
      } else if (b >= 0xe1 && b <= 0xef) need = 2;
      else if (b === 0xf0) {
        need = 3;
        lo = 0x90;
      } else if (b === 0xf4) {
        need = 3;
        hi = 0x8f;
      } else if (b >= 0xf1 && b <= 0xf3) need = 3;
      else validUtf8 = false;
    }
  }
  if (prevCr) bareCr = true;
  if (lineLen > MAX_LINE_OCTETS) longLine = true;
  if (need > 0) validUtf8 = false;
  return { eightBit, nul, bareCr, bareLf, longLine, validUtf8 };
}

/**
 * 7-bit safe in the sense of RFC 2045 "7bit data": only 0x01-0x7F, CR and LF
 * only as line ending, lines of at most 998 octets. Bare LF is tolerated
 * because converting it to CRLF is the canonicalisation we do anyway.
 */
export function isSevenBitSafe(scan: ByteScan): boolean {
  return !scan.eightBit && !scan.nul && !scan.bareCr && !scan.longLine;
}

/**
 * Charset we declare for 8-bit text that says nothing about its charset and
 * is not UTF-8. Such mail comes from legacy Western European clients (here:
 * German administrations), which write windows-1252; it is a superset of the
 * printable ISO-8859-1 range, and every byte value round-trips through QP or
 * RFC 2047/2231 encoding, so nothing is lost even when the guess is wrong.
 */
export const FALLBACK_8BIT_CHARSET = 'windows-1252';

export function guessCharset(scan: Pick<ByteScan, 'eightBit' | 'nul' | 'validUtf8'>): string {
  if (!scan.eightBit) return 'us-ascii';
  return scan.validUtf8 ? 'utf-8' : FALLBACK_8BIT_CHARSET;
}
