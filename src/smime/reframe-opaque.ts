/**
 * Re-frames an inbound opaque signed message (application/pkcs7-mime;
 * smime-type=signed-data) as multipart/signed (RFC 8551 3.5) with the same
 * signature, detached: clients without S/MIME then show the content, and
 * S/MIME clients can still check the signature themselves. The content
 * goes between the delimiters exactly as the signer signed it (a view, not
 * a copy); the CRLF in front of each `--boundary` belongs to the delimiter
 * (RFC 2046 5.1.1), so content without a final CRLF stays intact too.
 */
import { randomBytes } from 'node:crypto';
import { SiegelError } from '../errors.js';
import { buildMultipartSigned, fieldNames } from './assemble.js';
import type { DetachedSignedData } from './detach-signed-data.js';

export { detachSignedData, type DetachedSignedData } from './detach-signed-data.js';


export interface ReframeOptions {
  /** Boundary candidates (tests); random otherwise. A candidate that occurs in the content is skipped. */
  readonly nextBoundary?: () => string;
}

/** bchars of RFC 2046 5.1.1 minus space, 1..70 long. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/;
/** A caller-supplied generator that keeps colliding is a bug, not bad luck. */
const MAX_BOUNDARY_TRIES = 16;
/** micalg tokens (RFC 8551 3.4.3.2): lower-case names, comma-separated when several. */
const MICALG = /^[a-z0-9-]+(,[a-z0-9-]+)*$/;

/**
 * `outerHeaders`: the message's header fields other than Content-*, each
 * ending CRLF, without the empty line. Returns the chunks of the complete
 * message; the caller concatenates or streams them.
 */
export function reframeAsMultipartSigned(outerHeaders: Buffer, opaque: DetachedSignedData, options: ReframeOptions = {}): Buffer[] {
  const names = fieldNames(outerHeaders);
  if (outerHeaders.length > 0 && !outerHeaders.toString('latin1').endsWith('\n')) throw misuse('outer headers must end with a line break');
  if (names.includes('') || /(^|\n)\r?\n/.test(outerHeaders.toString('latin1'))) throw misuse('outer headers contain an empty line or a line that is not a header field');
  const content = names.find((name) => name.startsWith('content-'));
  if (content) throw misuse(`outer headers must not contain ${content}; the multipart/signed layer sets the content fields`);
  if (!MICALG.test(opaque.micalg)) throw misuse(`invalid micalg ${JSON.stringify(opaque.micalg)}`);

  const boundary = chooseBoundary(opaque.content, options.nextBoundary ?? randomBoundary);
  // Several digest names are a comma-separated list, which must be quoted (RFC 8551 3.4.3.2).
  const micalg = opaque.micalg.includes(',') ? `"${opaque.micalg}"` : opaque.micalg;
  return buildMultipartSigned(outerHeaders, opaque.content, opaque.detached, { boundary, micalg, preamble: false });
}

function randomBoundary(): string {
  // "=_" never occurs in quoted-printable or base64 text, so a collision needs raw text to contain it.
  return `----=_siegel_${randomBytes(18).toString('hex')}`;
}

/**
 * A boundary that does not occur anywhere in the content: stricter than
 * RFC 2046 (which only forbids it as a delimiter line) and cheap to check.
 */
function chooseBoundary(content: Buffer, next: () => string): string {
  for (let attempt = 0; attempt < MAX_BOUNDARY_TRIES; attempt++) {
    const boundary = next();
    if (!BOUNDARY.test(boundary)) throw misuse('invalid MIME boundary');
    if (!content.includes(boundary, 0, 'latin1')) return boundary;
  }
  throw misuse(`no MIME boundary absent from the content after ${MAX_BOUNDARY_TRIES} tries`);
}


/** Wrong use by the pipeline (the outer headers come from our own splitter), not a property of the message. */
function misuse(detail: string): SiegelError {
  return new SiegelError('INTERNAL', detail);
}
