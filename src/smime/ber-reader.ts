/**
 * A minimal BER reader for the outer SignedData: it finds the exact octets
 * of certificates, content and SignerInfos without building an object for
 * every node inside them (asn1js needs milliseconds per certificate, so a
 * message stuffed with certificates would cost seconds). Definite and
 * indefinite lengths (gpgsm and NSS write BER); depth and counts bounded.
 */

/** Unreadable or over-limit BER; `reason` says which. */
export class BerError extends Error {
  constructor(
    message: string,
    readonly reason: 'malformed' | 'too-large' = 'malformed',
  ) {
    super(message);
  }
}

export interface BerNode {
  /** First identifier octet (CMS uses only low tag numbers). */
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly contentEnd: number;
  readonly end: number;
}

const MAX_BER_DEPTH = 40;

export class BerReader {
  constructor(private readonly buffer: Buffer) {}

  read(offset: number, limit: number, depth: number): BerNode {
    if (depth > MAX_BER_DEPTH) throw new BerError('ASN.1 nesting too deep', 'too-large');
    const tag = this.buffer[offset];
    const first = this.buffer[offset + 1];
    if (tag === undefined || first === undefined || offset + 2 > limit) throw new BerError('truncated ASN.1');
    if ((tag & 0x1f) === 0x1f) throw new BerError('high tag numbers do not occur in CMS');
    let pos = offset + 2;
    if (first === 0x80) {
      if ((tag & 0x20) === 0) throw new BerError('indefinite length on a primitive value');
      for (;;) {
        if (pos + 2 > limit) throw new BerError('missing end-of-contents');
        if (this.buffer[pos] === 0 && this.buffer[pos + 1] === 0) return { tag, start: offset, contentStart: offset + 2, contentEnd: pos, end: pos + 2 };
        pos = this.read(pos, limit, depth + 1).end;
      }
    }
    let length = first;
    if (first > 0x80) {
      const count = first & 0x7f;
      if (count > 4) throw new BerError('ASN.1 length too large', 'too-large');
      if (pos + count > limit) throw new BerError('truncated ASN.1 length');
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + (this.buffer[pos + i] ?? 0);
      pos += count;
    }
    if (pos + length > limit) throw new BerError('ASN.1 value runs past its container');
    return { tag, start: offset, contentStart: pos, contentEnd: pos + length, end: pos + length };
  }

  children(node: BerNode, max = Number.MAX_SAFE_INTEGER, depth = 1): BerNode[] {
    if ((node.tag & 0x20) === 0) throw new BerError('expected a constructed value');
    const out: BerNode[] = [];
    for (let pos = node.contentStart; pos < node.contentEnd; ) {
      const child = this.read(pos, node.contentEnd, depth);
      out.push(child);
      if (out.length > max) throw new BerError(`more than ${max} elements in a set`, 'too-large');
      pos = child.end;
    }
    return out;
  }

  bytes(node: BerNode): Buffer {
    return this.buffer.subarray(node.start, node.end);
  }

  /** Content octets of a primitive value (no copy). */
  contents(node: BerNode): Buffer {
    if ((node.tag & 0x20) !== 0) throw new BerError('expected a primitive value');
    return this.buffer.subarray(node.contentStart, node.contentEnd);
  }

  /** OCTET STRING contents, primitive (no copy) or constructed from segments (BER). */
  octets(node: BerNode, depth: number): Buffer {
    if (node.tag === 0x04) return this.buffer.subarray(node.contentStart, node.contentEnd);
    if (node.tag !== 0x24 || depth > 8) throw new BerError('expected an OCTET STRING');
    return Buffer.concat(this.children(node, Number.MAX_SAFE_INTEGER, depth + 1).map((part) => this.octets(part, depth + 1)));
  }
}

export function expectTag(node: BerNode | undefined, tag: number, what: string): BerNode {
  if (!node || node.tag !== tag) throw new BerError(`${what} missing or of the wrong type`);
  return node;
}
