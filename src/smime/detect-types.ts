/**
 * What S/MIME detection reports about a received message. Every offset is
 * into the buffer given to detectSmime, so a later stage can verify exactly
 * the signed bytes and rewrite exactly the layer it found (replace
 * raw[location.start, location.end)) without re-serialising anything.
 */
import type { EntityRange } from './detect-multipart.js';

export interface SmimeLimits {
  /** Deepest nesting (multipart levels plus message/rfc822 levels) that is searched; deeper is malformed. */
  readonly maxDepth: number;
  /** Largest message (bytes) that is inspected at all. */
  readonly maxSize: number;
  /** Most MIME parts searched in one message (limits.mimeParts); more is malformed. Default 10,000. */
  readonly maxParts?: number;
}

/** Where the S/MIME layer is: the entity whose Content-Type makes it S/MIME. */
export interface SmimeLocation extends EntityRange {
  /**
   * 0-based part indexes from the top-level body down to the message/rfc822
   * part whose encapsulated message is the layer ([] = the message itself).
   * For an encapsulated message, start..end is the body of that rfc822 part.
   */
  readonly path: readonly number[];
}

export type SignatureProtocol = 'application/pkcs7-signature' | 'application/x-pkcs7-signature';

export interface MultipartSigned {
  readonly kind: 'multipart-signed';
  readonly location: SmimeLocation;
  /** Same as location.headerEnd: where the multipart/signed entity's header fields end. */
  readonly headerEnd: number;
  readonly protocol: SignatureProtocol;
  /** micalg parameter, lower-cased (e.g. "sha-256"); informative only, the SignerInfo decides. */
  readonly micalg?: string;
  readonly boundary: string;
  /**
   * The EXACT bytes that were signed (RFC 1847 section 2.1, RFC 8551 section
   * 3.5): from after the first delimiter line's line break to before the line
   * break that precedes the next delimiter. A view into the input.
   */
  readonly signedEntity: Buffer;
  /**
   * Present only when signedEntity contains bare LF line endings (the message
   * was stored or relayed LF-only): the same entity with every bare LF turned
   * into CRLF. Senders sign the canonical CRLF form (RFC 8551 section 3.1.1)
   * and clients verify over it, so a verifier tries signedEntity first and
   * this second; a copy, not a view.
   */
  readonly signedEntityCanonical?: Buffer;
  readonly signedEntityStart: number;
  readonly signedEntityEnd: number;
  /** Decoded DER (ContentInfo with SignedData) from the second part. */
  readonly signature: Buffer;
  /** The second body part (its header and body), without the surrounding delimiters. */
  readonly signaturePartStart: number;
  readonly signaturePartEnd: number;
}

/** application/pkcs7-mime layers; der is the decoded ContentInfo. */
export interface Pkcs7Mime {
  readonly kind: 'opaque-signed' | 'enveloped' | 'auth-enveloped' | 'compressed' | 'certs-only';
  readonly location: SmimeLocation;
  readonly der: Buffer;
  /** The media type as received (application/pkcs7-mime, application/x-pkcs7-mime, application/octet-stream with a .p7m name). */
  readonly mediaType: string;
  /** The smime-type parameter, lower-cased, if the sender gave one; otherwise the kind came from the DER. */
  readonly smimeType?: string;
}

export type MalformedReason =
  | 'too-large'
  | 'too-deep'
  | 'too-many-parts'
  | 'ambiguous-content-type'
  | 'missing-boundary'
  | 'missing-close-delimiter'
  | 'wrong-part-count'
  | 'signature-part-type'
  | 'unsupported-transfer-encoding'
  | 'bad-base64'
  | 'not-cms'
  | 'smime-type-mismatch'
  | 'unreadable';

export interface Malformed {
  readonly kind: 'malformed';
  readonly reason: MalformedReason;
  /** The entity that was being examined, when the problem is in one. */
  readonly location?: SmimeLocation;
}

export type SmimeStructure = { readonly kind: 'none' } | MultipartSigned | Pkcs7Mime | Malformed;
