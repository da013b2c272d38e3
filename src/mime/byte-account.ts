/**
 * Checks that what the splitter emits covers the input exactly once.
 *
 * mailsplit 5.4.30 loses or duplicates bytes for a part that has a header
 * but no empty line and no body, directly followed by a boundary:
 *   "--x\r\nContent-Type: text/plain\r\n--x\r\n"   the part's header is dropped
 *   "--x\r\nContent-Type: text/plain\r\n--x--\r\n" the header comes once as the
 *                                                  node and again inside the data
 * Body and data chunks are views into the input (it is written as one
 * buffer), so their offsets show such gaps and overlaps: a gap is handed
 * back to be emitted as it was, an overlap is cut off. Rule 1: bytes are
 * sacred, none may vanish or appear twice.
 */
export class ByteAccount {
  private pos = 0;

  constructor(private readonly input: Buffer) {}

  /** A node's header: the splitter copies it, so it cannot be located; it comes next. */
  header(bytes: Buffer): void {
    this.pos += bytes.length;
  }

  /** A body/data chunk: the bytes skipped before it (if any) and the part of it not yet seen. */
  take(value: Buffer): { gap: Buffer | undefined; value: Buffer } {
    const offset = this.offsetOf(value);
    if (offset < 0) {
      // not a view of the input (the splitter joined a line): trust it
      this.pos += value.length;
      return { gap: undefined, value };
    }
    const gap = offset > this.pos ? this.input.subarray(this.pos, offset) : undefined;
    const seen = Math.min(value.length, Math.max(0, this.pos - offset));
    this.pos = Math.max(this.pos, offset + value.length);
    return { gap, value: seen > 0 ? value.subarray(seen) : value };
  }

  /** Input bytes after everything emitted. */
  rest(): Buffer | undefined {
    return this.pos < this.input.length ? this.input.subarray(this.pos) : undefined;
  }

  private offsetOf(value: Buffer): number {
    if (value.buffer !== this.input.buffer) return -1;
    const offset = value.byteOffset - this.input.byteOffset;
    return offset >= 0 && offset + value.length <= this.input.length ? offset : -1;
  }
}

/**
 * One Buffer for a chunk list: a view when the chunks are consecutive views
 * of the same memory (the body chunks of a part are), a copy otherwise.
 */
export function contiguous(chunks: readonly Buffer[]): Buffer {
  const first = chunks[0];
  if (first === undefined) return Buffer.alloc(0);
  let end = first.byteOffset + first.length;
  for (const c of chunks.slice(1)) {
    if (c.buffer !== first.buffer || c.byteOffset !== end) return Buffer.concat(chunks);
    end += c.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}
