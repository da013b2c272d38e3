/**
 * Base64 with 76-character lines (RFC 2045 section 6.8), written straight
 * into the final output buffer: a large attachment is encoded without an
 * intermediate copy of its encoded form, which keeps peak memory at input
 * plus output.
 */
import { CR, LF } from './bytes.js';

const LINE_BYTES = 57; // 57 bytes -> 76 characters
const LINE_CHARS = 76;
const BATCH = LINE_BYTES * 1024;

/** Encoded size; `finalBreak` adds CRLF after the last line. */
export function base64Length(bytes: number, finalBreak: boolean): number {
  if (bytes === 0) return 0;
  const chars = Math.ceil(bytes / 3) * 4;
  const lines = Math.ceil(chars / LINE_CHARS);
  return chars + 2 * lines - (finalBreak ? 0 : 2);
}

/** Writes the base64 form of the chunks (one continuous byte stream) at `offset`; returns the new offset. */
export function writeBase64(chunks: readonly Buffer[], target: Buffer, offset: number, finalBreak: boolean): number {
  let total = 0;
  for (const c of chunks) total += c.length;
  const end = offset + base64Length(total, finalBreak);
  let pos = offset;

  const emit = (src: Buffer): void => {
    for (let s = 0; s < src.length; s += BATCH) {
      const enc = Buffer.from(src.toString('base64', s, Math.min(src.length, s + BATCH)), 'latin1');
      for (let i = 0; i < enc.length; i += LINE_CHARS) {
        pos += enc.copy(target, pos, i, Math.min(enc.length, i + LINE_CHARS));
        if (pos < end) {
          target[pos++] = CR;
          target[pos++] = LF;
        }
      }
    }
  };

  // Carry bytes across chunk borders so that every emitted block but the
  // last is a whole number of lines (base64 padding only at the very end).
  const carry = Buffer.alloc(LINE_BYTES);
  let carryLen = 0;
  for (const chunk of chunks) {
    let off = 0;
    if (carryLen > 0) {
      const take = Math.min(LINE_BYTES - carryLen, chunk.length);
      chunk.copy(carry, carryLen, 0, take);
      carryLen += take;
      off = take;
      if (carryLen < LINE_BYTES) continue;
      emit(carry);
      carryLen = 0;
    }
    const whole = Math.floor((chunk.length - off) / LINE_BYTES) * LINE_BYTES;
    if (whole > 0) emit(chunk.subarray(off, off + whole));
    off += whole;
    if (off < chunk.length) {
      chunk.copy(carry, 0, off);
      carryLen = chunk.length - off;
    }
  }
  if (carryLen > 0) emit(carry.subarray(0, carryLen));
  return pos;
}
