/**
 * Walks a message with the byte-preserving splitter and writes its 7-bit,
 * CRLF, <= 998-octet form into an OutputBuilder. Parts that are already safe
 * keep their bytes (a bare LF becomes CRLF); only parts that are not get
 * re-encoded, and only the header fields that must change are rebuilt.
 *
 * message/rfc822 must not be base64- or QP-encoded (RFC 2046 section 5.2.1),
 * so embedded messages are canonicalised recursively, like the top level:
 * this also applies the limits to what is nested inside them.
 */
import { finished } from 'node:stream/promises';
import type { MimeNode } from '@zone-eu/mailsplit';
import { CR, CRLF, LF, MAX_LINE_OCTETS, guessCharset, isSevenBitSafe, scanChunks } from './bytes.js';
import { addParameter, hasField, prependField, setField } from './header-edits.js';
import { fieldNeedsRebuild, sevenBitField } from './header-encoding.js';
import { ByteAccount, contiguous } from './byte-account.js';
import { splitFields } from './headers.js';
import type { HeaderField } from './headers.js';
import { splitterError } from './limits.js';
import type { LimitGuard } from './limits.js';
import type { OutputBuilder } from './output.js';
import { split, splitterOptions } from './split.js';
import { isEntityContentField } from './content-fields.js';

/**
 * entity: the top level of a message to be signed; its non-Content-* fields
 * are handed back as the outer header and are not part of the output.
 * message: an embedded message; all of its fields are part of the output.
 */
export type Mode = 'entity' | 'message';

interface Leaf {
  readonly node: MimeNode;
  readonly depth: number;
  readonly fields: HeaderField[];
  readonly body: Buffer[];
  readonly entityRoot: boolean;
  readonly messageRoot: boolean;
}

const IDENTITY_ENCODINGS = new Set(['', '7bit', '8bit', 'binary']);

function encodingOf(node: MimeNode): string {
  return typeof node.encoding === 'string' ? node.encoding.toLowerCase().trim() : '';
}

function depthOf(node: MimeNode): number {
  let depth = 0;
  for (let p = node.parentNode; p; p = p.parentNode) depth++;
  return depth;
}

function isContentField(f: HeaderField): boolean {
  return isEntityContentField(f.name);
}

function endsWithLf(buf: Buffer): boolean {
  return buf.length > 0 && buf[buf.length - 1] === LF;
}

/** The header block ended with an empty line (it may not: header at EOF, or directly followed by a boundary). */
function endsWithEmptyLine(h: Buffer): boolean {
  const n = h.length;
  if (n === 0 || h[n - 1] !== LF) return false;
  if (n === 1 || h[n - 2] === LF) return true;
  return h[n - 2] === CR && (n === 2 || h[n - 3] === LF);
}

/**
 * RFC 2045 section 5.2: no Content-Type means text/plain (message/rfc822
 * inside multipart/digest, RFC 2046 section 5.1.5); an unparsable one too.
 */
function effectiveType(node: MimeNode, hasContentType: boolean): string {
  if (!hasContentType) {
    return node.parentNode && node.parentNode.multipart === 'digest' ? 'message/rfc822' : 'text/plain';
  }
  const type = typeof node.contentType === 'string' ? node.contentType : '';
  return type.includes('/') ? type : 'text/plain';
}

/** Does the input start like a message (a header field or an empty header)? */
export function looksLikeMessage(chunks: readonly Buffer[]): boolean {
  const head: Buffer[] = [];
  let size = 0;
  for (const c of chunks) {
    if (size >= 1024) break;
    head.push(c.subarray(0, 1024 - size));
    size += Math.min(c.length, 1024 - size);
  }
  const start = Buffer.concat(head, size);
  if (start.length === 0 || start[0] === LF || (start[0] === CR && start[1] === LF)) return true;
  return /^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(start.toString('latin1'));
}

/**
 * Preamble, boundaries and epilogue are kept as they are. If a preamble or
 * epilogue is not 7-bit safe (readers ignore both, RFC 2046 section 5.1.1),
 * 8-bit bytes become "?", a bare CR a space (never a line break, which could
 * end the next part's header early) and long lines are broken.
 */
function sanitizeStructure(buf: Buffer): Buffer | undefined {
  if (isSevenBitSafe(scanChunks([buf]))) return undefined;
  const out = Buffer.allocUnsafe(buf.length + 2 * Math.ceil(buf.length / MAX_LINE_OCTETS));
  let pos = 0;
  let lineLen = 0;
  for (let i = 0; i < buf.length; i++) {
    let b = buf[i] as number;
    if (b === LF || (b === CR && buf[i + 1] === LF)) {
      out[pos++] = b;
      if (b === LF) lineLen = 0;
      continue;
    }
    if (b === CR) b = 0x20;
    else if (b === 0 || b >= 0x80) b = 0x3f;
    if (lineLen === MAX_LINE_OCTETS) {
      out[pos++] = CR;
      out[pos++] = LF;
      lineLen = 0;
    }
    out[pos++] = b;
    lineLen++;
  }
  return out.subarray(0, pos);
}

async function decode(decoder: NodeJS.ReadWriteStream, chunks: readonly Buffer[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  decoder.on('data', (b: Buffer) => out.push(b));
  const done = finished(decoder);
  for (const c of chunks) decoder.write(c);
  decoder.end();
  await done;
  return out;
}

export class Canonicalizer {
  /** Some byte of the output differs from the input (beyond bare LF -> CRLF, which the builder counts). */
  changed = false;

  constructor(
    private readonly guard: LimitGuard,
    private readonly out: OutputBuilder,
  ) {}

  /**
   * Canonicalises one message, given as one buffer so that every chunk the
   * splitter emits is a view into it (see ByteAccount). In entity mode
   * returns the top level's non-Content-* fields (not written to the output).
   */
  async message(input: Buffer, mode: Mode, baseDepth: number): Promise<HeaderField[]> {
    // Bytes that do not start like a message are a body without header:
    // an empty line in front makes the splitter see them that way.
    const prefixed = !looksLikeMessage([input]);
    const splitter = split(prefixed ? [CRLF, input] : [input], splitterOptions(this.guard.limits));
    const account = new ByteAccount(input);
    let outer: HeaderField[] = [];
    let leaf: Leaf | undefined;
    let first = true;
    try {
      for await (const item of splitter) {
        if (item.type === 'node') {
          if (leaf) await this.leaf(leaf);
          leaf = undefined;
          const header = item.getHeaders();
          if (!(prefixed && first)) account.header(header);
          first = false;
          const depth = baseDepth + depthOf(item);
          this.guard.entity(depth, header.length);
          if (!endsWithEmptyLine(header)) this.changed = true;
          let fields = splitFields(header);
          const root = item.parentNode === false;
          const entityRoot = root && mode === 'entity';
          if (entityRoot) {
            outer = fields.filter((f) => !isContentField(f));
            fields = fields.filter(isContentField);
          }
          if (item.multipart) this.container(fields, item, root && mode === 'message');
          else leaf = { node: item, depth, fields, body: [], entityRoot, messageRoot: root && mode === 'message' };
          continue;
        }
        const { gap, value } = account.take(item.value);
        if (gap && leaf && item.type === 'body') {
          leaf.body.push(gap);
        } else if (gap) {
          if (leaf) await this.leaf(leaf);
          leaf = undefined;
          this.structure(gap);
        }
        if (value.length === 0) continue;
        if (item.type === 'body' && leaf) {
          leaf.body.push(value);
        } else {
          if (leaf) await this.leaf(leaf);
          leaf = undefined;
          this.structure(value);
        }
      }
      if (leaf) await this.leaf(leaf);
      const rest = account.rest();
      if (rest) this.structure(rest);
    } catch (err) {
      splitter.destroy();
      throw splitterError(err);
    }
    return outer;
  }

  private header(fields: readonly HeaderField[]): void {
    for (const f of fields) {
      if (fieldNeedsRebuild(f.raw)) {
        this.out.exact(sevenBitField(f.raw));
        this.changed = true;
      } else {
        this.out.lines(f.raw);
        if (!endsWithLf(f.raw)) {
          this.out.exact(CRLF);
          this.changed = true;
        }
      }
    }
    this.out.exact(CRLF);
  }

  private structure(buf: Buffer): void {
    const fixed = sanitizeStructure(buf);
    if (fixed) this.changed = true;
    this.out.lines(fixed ?? buf);
  }

  /**
   * A header we edited on an embedded message's top level must be read as
   * MIME, which needs MIME-Version (RFC 2045 section 4).
   */
  private edited(fields: HeaderField[], messageRoot: boolean): HeaderField[] {
    this.changed = true;
    return messageRoot && !hasField(fields, 'mime-version') ? setField(fields, 'MIME-Version', '1.0') : fields;
  }

  /**
   * A multipart keeps its header; once its content is 7-bit, an 8bit/binary
   * label is relabelled 7bit, since relays that downgrade 8BITMIME rewrite
   * such labels and would break the signature.
   */
  private container(fields: HeaderField[], node: MimeNode, messageRoot: boolean): void {
    let f = fields;
    const cte = encodingOf(node);
    if (cte === '8bit' || cte === 'binary') {
      f = this.edited(setField(f, 'Content-Transfer-Encoding', '7bit'), messageRoot);
    }
    this.header(f);
  }

  private async leaf(leaf: Leaf): Promise<void> {
    const { node, body, entityRoot, messageRoot } = leaf;
    let f = leaf.fields;
    const scan = scanChunks(body);
    const safe = isSevenBitSafe(scan);
    const cte = encodingOf(node);
    const hasContentType = hasField(f, 'content-type');
    const type = effectiveType(node, hasContentType);
    // A part with no Content-Type but "attachment" is a file (mailsplit and
    // clients guess its type from the filename): never line-convert it as text.
    const text = type.startsWith('text/') && (hasContentType || node.disposition !== 'attachment');
    const defaultType = text ? 'text/plain; charset=us-ascii' : 'application/octet-stream';
    const isRoot = node.parentNode === false;

    if (type === 'message/rfc822') {
      const identity = IDENTITY_ENCODINGS.has(cte);
      if ((identity && (!safe || looksLikeMessage(body))) || (!identity && !safe)) {
        const content = contiguous(identity ? body : await decode(node.getDecoder(), body));
        if (cte !== '' && cte !== '7bit') f = this.edited(setField(f, 'Content-Transfer-Encoding', '7bit'), messageRoot);
        this.header(f);
        await this.message(content, 'message', leaf.depth + 1);
        return;
      }
    }

    if (safe) {
      if (cte === '8bit' || cte === 'binary') f = this.edited(setField(f, 'Content-Transfer-Encoding', '7bit'), messageRoot);
      // The signed entity must say what it is: add the RFC 2045 default explicitly.
      if (entityRoot && !hasContentType) f = this.edited(prependField(f, 'Content-Type', defaultType), false);
      this.header(f);
      for (const b of body) this.out.lines(b);
      return;
    }

    let content: readonly Buffer[] = body;
    let contentScan = scan;
    if (cte === 'base64' || cte === 'quoted-printable') {
      content = await decode(node.getDecoder(), body);
      contentScan = scanChunks(content);
    }
    // Keep a declared base64/QP encoding (only its lines were bad); otherwise
    // text becomes quoted-printable (stays readable) and the rest base64.
    const target = cte === 'base64' || cte === 'quoted-printable' ? cte : text ? 'quoted-printable' : 'base64';
    f = this.edited(setField(f, 'Content-Transfer-Encoding', target), messageRoot);
    if (text && !(hasContentType && node.charset) && contentScan.eightBit) {
      const charset = guessCharset(contentScan);
      f = hasContentType
        ? addParameter(f, 'content-type', `charset=${charset}`)
        : prependField(f, 'Content-Type', `text/plain; charset=${charset}`);
    } else if (entityRoot && !hasContentType) {
      f = prependField(f, 'Content-Type', defaultType);
    }
    this.header(f);
    if (target === 'base64') {
      // the last line of a top-level body ends with CRLF; inside a multipart
      // the CRLF in front of the next boundary belongs to the boundary
      this.out.base64(content, isRoot);
    } else {
      this.out.quotedPrintable(content, { text });
    }
  }
}
