/**
 * What the inbound stages learn about a message and hand on to the next
 * stage: every signature checked (with what harvesting needs) and every
 * layer decrypted. The annotate stage turns this into the
 * Authentication-Results header; nothing here is ever a boolean "valid".
 */
import type { ContentEncryption, KeyManagement } from '../../smime/envelope-algorithms.js';
import type { Verdict } from '../../smime/verdict.js';
import type { VerifyOutcome } from '../../smime/verify-signed-data.js';
import type { PipelineMessage } from '../types.js';

export interface SignatureFinding {
  readonly verdict: Verdict;
  /** multipart/signed (detached) or application/pkcs7-mime signed-data (opaque). */
  readonly form: 'detached' | 'opaque';
  /**
   * MIME part number (RFC 7281 body.smime-part, e.g. "2") of a signed
   * message/rfc822 attachment; undefined for the message itself.
   */
  readonly part?: string;
  /** The From addresses the signer was checked against. */
  readonly fromAddresses: readonly string[];
  /** Certificates and attributes, for harvesting after a pass. */
  readonly outcome: VerifyOutcome;
}

export interface DecryptionFinding {
  readonly contentEncryption: ContentEncryption;
  readonly keyManagement: KeyManagement;
  /** rfc822Name addresses of the enrolled certificate whose key opened the message. */
  readonly recipientAddresses: readonly string[];
}

export interface InboundFindings {
  readonly signatures: readonly SignatureFinding[];
  readonly decryptions: readonly DecryptionFinding[];
  /**
   * What stopped the look inside (undecryptable, unreadable structure),
   * when that is the only thing known about the message's S/MIME.
   */
  readonly problem?: Verdict;
}

export interface InboundMessage extends PipelineMessage {
  readonly findings: InboundFindings;
}

export const NO_FINDINGS: InboundFindings = { signatures: [], decryptions: [] };
