/**
 * Splits a message for enveloping the way RFC 8551 3.1 splits it for
 * signing: the top-level fields that describe the message (From, To,
 * Subject, Received, MIME-Version...) stay outside the encrypted layer, the
 * Content-* fields and the body form the entity inside it.
 *
 * Two ways in, so a large message is walked at most once:
 * - our own signature (multipart/signed or signed-data): already canonical,
 *   so only the top-level header is read and the body stays as views;
 * - unsigned mail: canonicalised first (7-bit, CRLF, short lines), exactly
 *   as the signing stage does, so every client reads the decrypted entity.
 */
import { SiegelError } from '../../errors.js';
import { splitFields, splitHeaderBody, type HeaderField } from '../../mime/headers.js';
import { prepareForSigning, type MimeLimits } from '../../mime/prepare-for-signing.js';
import { contiguous, leadingBytes } from '../message.js';
import type { PipelineMessage } from '../types.js';

export interface EncryptableEntity {
  /** Non-Content-* top-level fields, each ending in a line break, without the empty line. */
  readonly outerHeaders: Buffer;
  /** Content-* fields, empty line, body: what is encrypted. Mostly views into the message. */
  readonly entity: readonly Buffer[];
}

const CRLF = Buffer.from('\r\n', 'ascii');

/** For output of the signing stage (canonical by construction). */
export function splitSignedMessage(message: PipelineMessage, maxHeaderSize: number): EncryptableEntity {
  const head = leadingBytes(message, maxHeaderSize);
  const { header, body } = splitHeaderBody(head);
  if (header.length === head.length) throw new SiegelError('INTERNAL', 'signed message without a header/body separator');
  // `body` is what of the body `head` holds; the body starts where it starts.
  const bodyStart = head.length - body.length;
  const fields = splitFields(header);
  return {
    outerHeaders: Buffer.concat(fields.filter((f) => !isContentField(f)).map(withLineBreak)),
    entity: [...fields.filter(isContentField).map(withLineBreak), CRLF, ...chunksFrom(message.chunks, bodyStart)],
  };
}

/** For unsigned mail: canonical form, as signing would make it. Throws MESSAGE_MALFORMED for a header line that is not a field. */
export async function canonicalEntity(message: PipelineMessage, limits: MimeLimits): Promise<EncryptableEntity> {
  const { header } = splitHeaderBody(leadingBytes(message, limits.maxHeaderSize));
  const index = splitFields(header).findIndex((f) => f.name === '');
  if (index >= 0) {
    // Neither outside nor inside the encrypted layer would keep what the sender wrote; as in signing, refuse at once.
    throw new SiegelError('MESSAGE_MALFORMED', `header line ${index + 1} is not a header field ("Name: value"); cannot encrypt`);
  }
  const prepared = await prepareForSigning(contiguous(message), limits);
  return { outerHeaders: prepared.outerHeaders, entity: prepared.entity };
}

function isContentField(field: HeaderField): boolean {
  return field.name.toLowerCase().startsWith('content-');
}

function withLineBreak(field: HeaderField): Buffer {
  return field.raw[field.raw.length - 1] === 0x0a ? field.raw : Buffer.concat([field.raw, CRLF]);
}

/** The chunks from byte `offset` on, as views. */
function chunksFrom(chunks: readonly Buffer[], offset: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = offset;
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    out.push(skip > 0 ? chunk.subarray(skip) : chunk);
    skip = 0;
  }
  return out;
}
