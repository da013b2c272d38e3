/**
 * Turns a received message into what the S/MIME signer needs: the outer
 * header (not signed, relayed as received) and the MIME entity to sign in
 * canonical form (RFC 8551 section 3.1: 7-bit, CRLF, lines <= 998 octets),
 * so that no relay has a reason to touch the signed bytes.
 *
 * Memory: the message is never copied as a whole: the entity is a list of
 * chunks, views into `raw` wherever the bytes stay as received, new buffers
 * only for re-encoded parts. Peak is about input + the encoded form of the
 * parts that had to be re-encoded.
 */
import { CRLF, LF } from './bytes.js';
import { Canonicalizer } from './canonicalize.js';
import { canonicalSinglePart } from './canonical-single-part.js';
import { LimitGuard } from './limits.js';
import type { MimeLimits } from './limits.js';
import { OutputBuilder } from './output.js';

export type { MimeLimits } from './limits.js';

export interface PreparedMessage {
  /**
   * The message's non-content header fields (everything except Content-*
   * fields; MIME-Version stays here) exactly as received, except that line
   * endings are CRLF. Ends with CRLF but WITHOUT the empty line that
   * separates header and body. Empty if the input had no header at all.
   */
  outerHeaders: Buffer;
  /**
   * The MIME entity to be signed: the Content-* header fields of the top
   * level + empty line + body, in canonical form: 7-bit only, CRLF line
   * endings, no line longer than 998 octets (excluding CRLF).
   */
  entity: Buffer[];
  /** Total length of `entity` in bytes. */
  entityLength: number;
  /** true if any bytes had to be changed (re-encoded, header fields rebuilt or added, or line endings fixed) */
  changed: boolean;
}

/**
 * @throws SiegelError MESSAGE_LIMITS_EXCEEDED when the structure exceeds `limits`.
 * Input that is not a message at all is treated as a text/plain body.
 */
export async function prepareForSigning(raw: Buffer, limits: MimeLimits): Promise<PreparedMessage> {
  const simple = canonicalSinglePart(raw, limits);
  if (simple) {
    const outerHeaders = Buffer.concat(simple.outerFields.map((f) => f.raw));
    return { outerHeaders, entity: simple.entity, entityLength: simple.entityLength, changed: false };
  }
  return prepareBySplitting(raw, limits);
}

/** The general path: the byte-preserving splitter walks every part. Exported for the test that compares both paths. */
export async function prepareBySplitting(raw: Buffer, limits: MimeLimits): Promise<PreparedMessage> {
  const out = new OutputBuilder();
  const walker = new Canonicalizer(new LimitGuard(limits), out);
  const outerFields = await walker.message(raw, 'entity', 0);
  const entity = out.build();

  const outerOut = new OutputBuilder();
  let outerEndFixed = false;
  for (const f of outerFields) {
    outerOut.lines(f.raw);
    if (f.raw[f.raw.length - 1] !== LF) {
      outerOut.exact(CRLF);
      outerEndFixed = true;
    }
  }
  const outer = outerOut.build();

  return {
    outerHeaders: Buffer.concat(outer.chunks, outer.length),
    entity: entity.chunks,
    entityLength: entity.length,
    changed: walker.changed || outerEndFixed || entity.lineEndsFixed > 0 || outer.lineEndsFixed > 0,
  };
}
