/**
 * Finds the attachments of a message and where their bytes lie, so that the
 * offloading stage can cut exactly those parts out and keep every other byte
 * as it is (DESIGN rule 1). The message is walked with the byte-preserving
 * splitter; body chunks are views into the input, so a part's position is
 * known from the views themselves. A part's content is decoded as a stream
 * over its bytes (DESIGN rule 7): nothing holds the decoded file.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MimeNode } from '@zone-eu/mailsplit';
import { LimitGuard, splitterError } from './limits.js';
import type { MimeLimits } from './limits.js';
import { split, splitterOptions } from './split.js';

/** An attachment: a leaf part that carries a file. */
export interface AttachmentPart {
  /** Offset of the part's first header byte in the message. */
  readonly start: number;
  /** Offset of the first body byte (just after the empty line). */
  readonly bodyStart: number;
  /** Offset just past the body (the line break before the next boundary belongs to the boundary). */
  readonly end: number;
  /** The top-level entity: its header holds the message's own fields too. */
  readonly root: boolean;
  /** RFC 2231 / RFC 2047 decoded; '' when the part names none. */
  readonly fileName: string;
  /** Lower-case media type as declared (or as mailsplit defaults it). */
  readonly contentType: string;
  /** Lower-case Content-Transfer-Encoding ('' when absent). */
  readonly encoding: string;
  /** A fresh decoder for the part's transfer encoding. */
  decoder(): NodeJS.ReadWriteStream;
}

const BODY_TYPES = new Set(['text/plain', 'text/html']);

/** Pieces the encoded body is fed to a decoder in: bounded memory per step. */
const FEED = 256 * 1024;

function underSignature(node: MimeNode): boolean {
  for (let p = node.parentNode; p; p = p.parentNode) if (p.multipart === 'signed') return true;
  return false;
}

function depthOf(node: MimeNode): number {
  let depth = 0;
  for (let p = node.parentNode; p; p = p.parentNode) depth++;
  return depth;
}

interface OpenLeaf {
  readonly node: MimeNode;
  readonly start: number;
  readonly bodyStart: number;
  /** Every body chunk was a view into the input: the offsets are exact. */
  located: boolean;
  end: number;
}

/**
 * The attachments of `input` in document order: leaf parts with
 * Content-Disposition attachment or a file name, except the message's
 * first text/plain or text/html body and anything inside a
 * multipart/signed (changing it would break that signature). Parts whose
 * position cannot be established exactly are left out.
 *
 * @throws SiegelError MESSAGE_MALFORMED / MESSAGE_LIMITS_EXCEEDED when the structure cannot be walked.
 */
export async function findAttachments(input: Buffer, limits: MimeLimits): Promise<AttachmentPart[]> {
  const guard = new LimitGuard(limits);
  const splitter = split([input], splitterOptions(limits));
  const found: AttachmentPart[] = [];
  let pos = 0;
  let leaf: OpenLeaf | undefined;
  let bodySeen = false;

  const offsetOf = (value: Buffer): number => {
    if (value.buffer !== input.buffer) return -1;
    const offset = value.byteOffset - input.byteOffset;
    return offset >= 0 && offset + value.length <= input.length ? offset : -1;
  };
  const close = (): void => {
    if (!leaf) return;
    const { node } = leaf;
    const type = typeof node.contentType === 'string' ? node.contentType : 'text/plain';
    const isBody = !bodySeen && BODY_TYPES.has(type) && node.disposition !== 'attachment';
    if (isBody) bodySeen = true;
    const named = typeof node.filename === 'string' && node.filename !== '';
    if (!isBody && leaf.located && (node.disposition === 'attachment' || named) && !underSignature(node)) {
      const part = node;
      found.push({
        start: leaf.start,
        bodyStart: leaf.bodyStart,
        end: leaf.end,
        root: node.parentNode === false,
        fileName: named ? (node.filename as string) : '',
        contentType: type,
        encoding: typeof node.encoding === 'string' ? node.encoding : '',
        decoder: () => part.getDecoder(),
      });
    }
    leaf = undefined;
  };

  try {
    for await (const item of splitter) {
      if (item.type === 'node') {
        close();
        const header = item.getHeaders();
        guard.entity(depthOf(item), header.length);
        const start = pos;
        pos += header.length;
        if (!item.multipart) {
          // The splitter hands the header as a copy; it must be the bytes found at this position.
          const located = input.subarray(start, pos).equals(header);
          leaf = { node: item, start, bodyStart: pos, end: pos, located };
        }
        continue;
      }
      const offset = offsetOf(item.value);
      if (offset < 0) {
        pos += item.value.length;
        if (leaf && item.type === 'body') leaf.located = false;
      } else {
        pos = Math.max(pos, offset + item.value.length);
      }
      if (item.type === 'body' && leaf) leaf.end = pos;
      else close();
    }
    close();
  } catch (err) {
    splitter.destroy();
    throw splitterError(err);
  }
  return found;
}

/** The part's encoded bytes, as views. */
function encodedPieces(input: Buffer, part: AttachmentPart): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = part.bodyStart; at < part.end; at += FEED) pieces.push(input.subarray(at, Math.min(part.end, at + FEED)));
  return pieces;
}

/** The decoded content as a stream (back-pressure respected; an error ends it). */
export function decodedContent(input: Buffer, part: AttachmentPart): Readable {
  const decoder = part.decoder();
  const source = Readable.from(encodedPieces(input, part));
  // pipeline destroys both on an error and forwards it to the reader of the decoder
  void pipeline(source, decoder).catch(() => undefined);
  return decoder as unknown as Readable;
}

/** Size of the decoded content, counted by running the decoder and discarding its output. */
export async function decodedSize(input: Buffer, part: AttachmentPart): Promise<number> {
  let size = 0;
  for await (const chunk of decodedContent(input, part)) size += (chunk as Buffer).length;
  return size;
}
