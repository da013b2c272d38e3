/**
 * Quoted-printable encoder (RFC 2045 section 6.7) tuned for signed mail:
 * lines of at most 76 characters, trailing whitespace encoded, and a line
 * that starts with "F" or "." gets that character encoded, so that "From "
 * munging (mbox) and dot handling of sloppy relays cannot alter the signed
 * bytes. Streams over a chunk list. Like base64, it is run once to measure
 * and once to write straight into the final output buffer, so a large text
 * part costs no intermediate copy of its encoded form.
 */
import { CR, LF } from './bytes.js';

export interface QpOptions {
  /**
   * Text: CRLF and bare LF are hard line breaks (bare LF becomes CRLF, the
   * canonical form of text, RFC 2046 section 4.1.1); a bare CR is kept as =0D.
   * Otherwise every CR and LF is encoded, so any bytes round-trip.
   */
  readonly text: boolean;
}

const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
const MAX_CHARS = 75; // plus the "=" of a soft line break = 76
const SP = 0x20;
const TAB = 0x09;

/** Where encoded bytes go: counted only, or written into a buffer. */
interface Sink {
  byte(b: number): void;
}

class Counter implements Sink {
  length = 0;
  byte(): void {
    this.length++;
  }
}

class Target implements Sink {
  constructor(
    private readonly target: Buffer,
    public pos: number,
  ) {}
  byte(b: number): void {
    this.target[this.pos++] = b;
  }
}

/** Length of the encoded form. */
export function quotedPrintableLength(chunks: readonly Buffer[], options: QpOptions): number {
  const counter = new Counter();
  encode(chunks, options, counter);
  return counter.length;
}

/** Writes the encoded form at `offset`; returns the new offset. */
export function writeQuotedPrintable(chunks: readonly Buffer[], options: QpOptions, target: Buffer, offset: number): number {
  const sink = new Target(target, offset);
  encode(chunks, options, sink);
  return sink.pos;
}

/** The encoded form as one Buffer. */
export function encodeQuotedPrintable(chunks: readonly Buffer[], options: QpOptions): Buffer {
  const out = Buffer.allocUnsafe(quotedPrintableLength(chunks, options));
  writeQuotedPrintable(chunks, options, out, 0);
  return out;
}

function encode(chunks: readonly Buffer[], options: QpOptions, w: Sink): void {
  let lineLen = 0;
  let pendingWs = -1; // whitespace whose encoding depends on what follows
  let pendingCr = false;

  const softBreak = (): void => {
    w.byte(0x3d);
    w.byte(CR);
    w.byte(LF);
    lineLen = 0;
  };
  const encoded = (b: number): void => {
    if (lineLen + 3 > MAX_CHARS) softBreak();
    w.byte(0x3d);
    w.byte(HEX[b >> 4] as number);
    w.byte(HEX[b & 15] as number);
    lineLen += 3;
  };
  const literal = (b: number): void => {
    if (lineLen + 1 > MAX_CHARS) softBreak();
    // At a line start: "F" (mbox "From " mangling), "." (SMTP dot handling) and
    // "-" (after a soft break a line could otherwise read as a MIME boundary).
    if (lineLen === 0 && (b === 0x46 || b === 0x2e || b === 0x2d)) {
      encoded(b);
      return;
    }
    w.byte(b);
    lineLen++;
  };
  const flushWs = (atLineEnd: boolean): void => {
    if (pendingWs < 0) return;
    if (atLineEnd) encoded(pendingWs);
    else literal(pendingWs);
    pendingWs = -1;
  };
  const hardBreak = (): void => {
    flushWs(true);
    w.byte(CR);
    w.byte(LF);
    lineLen = 0;
  };

  for (const chunk of chunks) {
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (pendingCr) {
        pendingCr = false;
        if (b === LF) {
          hardBreak();
          continue;
        }
        flushWs(false);
        encoded(CR);
      }
      if (options.text) {
        if (b === CR) {
          pendingCr = true;
          continue;
        }
        if (b === LF) {
          hardBreak();
          continue;
        }
      }
      if (b === SP || b === TAB) {
        flushWs(false);
        pendingWs = b;
        continue;
      }
      flushWs(false);
      if (b >= 0x21 && b <= 0x7e && b !== 0x3d) literal(b);
      else encoded(b);
    }
  }
  if (pendingCr) {
    flushWs(false);
    encoded(CR);
  }
  flushWs(true);
}
